import {expect} from 'chai'
import type {LsResult} from '../../../src/lib/inspect/files.js'
import {renderLs} from '../../../src/lib/ui/ls-render.js'

const D = (c: string) => `sha256:${c.repeat(64)}`

describe('ui/ls-render', () => {
  it('prints one image: source, files, total', () => {
    const mediaType = 'application/vnd.oci.image.manifest.v1+json'
    const result: LsResult = {
      reference: 'r/m:v1',
      manifestDigest: D('a'),
      mediaType,
      images: [
        {
          manifestDigest: D('a'),
          hfRepo: 'org/m',
          revision: 'f'.repeat(40),
          unnamedLayers: [],
          files: [
            {path: 'config.json', layerSize: 2560, sha256: '1'.repeat(64), layerDigest: D('b')},
            {path: 'model.safetensors', layerSize: 3 * 1024 * 1024, sha256: null, layerDigest: D('c')},
          ],
        },
      ],
    }
    expect(renderLs(result)).to.equal(
      [
        'org/m@ffffffffffff (aaaaaaaaaaaa)',
        'PATH               LAYER SIZE  SHA256        LAYER',
        'config.json        2.5 KiB     111111111111  bbbbbbbbbbbb',
        'model.safetensors  3.0 MiB     -             cccccccccccc',
        '2 files, 3.0 MiB in layers',
      ].join('\n'),
    )
  })

  it('prints each platform of an index, and the layers that name no file', () => {
    const result: LsResult = {
      reference: 'r/m:v1',
      manifestDigest: D('a'),
      mediaType: 'application/vnd.oci.image.index.v1+json',
      images: [
        {
          manifestDigest: D('b'),
          platform: 'linux/amd64',
          files: [],
          unnamedLayers: [
            {digest: D('c'), size: 100, mediaType: 'x'},
            {digest: D('d'), size: 2048, mediaType: 'x'},
          ],
        },
        {
          manifestDigest: D('e'),
          platform: 'linux/arm64',
          unnamedLayers: [],
          files: [{path: 'a', layerSize: 2048, sha256: '2'.repeat(64), layerDigest: D('f')}],
        },
      ],
    }
    expect(renderLs(result)).to.equal(
      [
        'linux/amd64 (bbbbbbbbbbbb)',
        '0 files, 0 B in layers',
        '2 layers have no file annotation (org.opencontainers.image.title): cccccccccccc (100 B), dddddddddddd (2.0 KiB)',
        '',
        'linux/arm64 (eeeeeeeeeeee)',
        'PATH  LAYER SIZE  SHA256        LAYER',
        'a     2.0 KiB     222222222222  ffffffffffff',
        '1 file, 2.0 KiB in layers',
      ].join('\n'),
    )
  })
})
