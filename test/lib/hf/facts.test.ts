import {expect} from 'chai'
import {parseModelFacts} from '../../../src/lib/hf/facts.js'

describe('hf/facts: what the model info says beyond the files', () => {
  it('reads the commit date, licence, model_type and safetensors counts of a Hub answer', () => {
    // Shaped like /api/models/{id}/revision/{sha} (huggingface_hub ModelInfo: lastModified, cardData, config, safetensors).
    const body = {
      id: 'acme/tiny',
      sha: 'a'.repeat(40),
      lastModified: '2025-04-28T12:30:00.000Z',
      cardData: {license: 'apache-2.0', language: ['en']},
      config: {architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3'},
      safetensors: {parameters: {F32: 10, BF16: 596049920}, total: 596049930},
    }
    expect(parseModelFacts(body)).to.deep.equal({
      lastModified: '2025-04-28T12:30:00.000Z',
      licenses: ['apache-2.0'],
      modelType: 'qwen3',
      paramCount: 596049930,
      dtypes: ['BF16', 'F32'],
    })
    expect(parseModelFacts({cardData: {license: ['mit', 'cc-by-4.0']}}).licenses).to.deep.equal(['mit', 'cc-by-4.0'])
  })

  it('drops a fact of the wrong type instead of failing', () => {
    const body = {lastModified: 'yesterday', cardData: {license: 7}, config: {model_type: ''}, safetensors: {total: -1, parameters: []}}
    expect(parseModelFacts(body)).to.deep.equal({})
    expect(parseModelFacts(null)).to.deep.equal({})
    expect(parseModelFacts('x')).to.deep.equal({})
  })
})
