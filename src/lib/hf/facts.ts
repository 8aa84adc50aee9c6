// What the Hub's model info says about one commit, beyond its files: read
// for the ModelPack config (--modelpack) and nothing else. Each value is
// kept only when it has the type the Hub documents, so a surprising answer
// drops a fact instead of failing the push.

export interface HubModelFacts {
  /** When the commit was made (RFC 3339). */
  lastModified?: string
  /** The model card's `license` (one or several Hub licence ids). */
  licenses?: string[]
  /** config.json's `model_type`, e.g. "llama", "qwen3". */
  modelType?: string
  /** Parameters counted in the safetensors headers, in total and per dtype (BF16, F16...). */
  paramCount?: number
  dtypes?: string[]
}

const RFC3339 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/

const record = (v: unknown): Record<string, unknown> | undefined =>
  typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined

export function parseModelFacts(body: unknown): HubModelFacts {
  const info = record(body) ?? {}
  const facts: HubModelFacts = {}
  if (typeof info.lastModified === 'string' && RFC3339.test(info.lastModified)) facts.lastModified = info.lastModified
  const license = record(info.cardData)?.license
  const licenses = (Array.isArray(license) ? license : [license]).filter((l): l is string => typeof l === 'string' && l !== '')
  if (licenses.length > 0) facts.licenses = licenses
  const modelType = record(info.config)?.model_type
  if (typeof modelType === 'string' && modelType !== '') facts.modelType = modelType
  const safetensors = record(info.safetensors)
  if (Number.isSafeInteger(safetensors?.total) && (safetensors!.total as number) > 0) facts.paramCount = safetensors!.total as number
  const parameters = record(safetensors?.parameters)
  if (parameters) facts.dtypes = Object.keys(parameters).sort()
  return facts
}
