// What `modelcar ls` prints on stdout: per image (per platform for an
// index) a table of its files, then the layers that name no file.
import type {ListedImage, LsResult} from '../inspect/files.js'
import {shortDigest} from '../oci/digest.js'
import {bytes} from './format.js'
import {table} from './output.js'

export function renderLs(result: LsResult, opts: {width?: number} = {}): string {
  const many = result.images.length > 1 || result.images[0]?.platform !== undefined
  const blocks = result.images.map((img) => renderImage(img, many, opts.width))
  if (result.images.length === 0) blocks.push('The index lists no image manifests.')
  return blocks.join('\n\n')
}

function renderImage(img: ListedImage, heading: boolean, width: number | undefined): string {
  const lines: string[] = []
  const source = img.hfRepo ? ` ${img.hfRepo}@${img.revision?.slice(0, 12) ?? '?'}` : ''
  if (heading) lines.push(`${img.platform ?? shortDigest(img.manifestDigest)} (${shortDigest(img.manifestDigest)})${source}`)
  else if (source) lines.push(`${source.trim()} (${shortDigest(img.manifestDigest)})`)
  if (img.files.length > 0) {
    lines.push(
      table(
        img.files.map((f) => [f.path, bytes(f.layerSize), f.sha256 ? f.sha256.slice(0, 12) : '-', shortDigest(f.layerDigest)]),
        ['PATH', 'LAYER SIZE', 'SHA256', 'LAYER'],
        {width, shrink: [{column: 0, cut: 'middle'}]},
      ),
    )
  }
  const total = img.files.reduce((n, f) => n + f.layerSize, 0)
  lines.push(`${img.files.length} ${img.files.length === 1 ? 'file' : 'files'}, ${bytes(total)} in layers`)
  if (img.unnamedLayers.length > 0) {
    const n = img.unnamedLayers.length
    lines.push(
      `${n} ${n === 1 ? 'layer has' : 'layers have'} no file annotation (org.opencontainers.image.title): ` +
        img.unnamedLayers.map((l) => `${shortDigest(l.digest)} (${bytes(l.size)})`).join(', '),
    )
  }
  return lines.join('\n')
}
