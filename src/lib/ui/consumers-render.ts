// What `verify --for` adds to verify's output: one line per finding, or one
// line saying the image suits every consumer asked about.
import type {ConsumerReport} from '../verify/consumers.js'
import {consumerLines} from '../verify/consumers.js'

export function renderConsumers(report: ConsumerReport): string {
  const asked = report.consumers.join(', ')
  const notes = report.notes.map((n) => `note: ${n}`)
  const images = `${report.images} image${report.images === 1 ? '' : 's'}`
  if (report.findings.length === 0) return [...notes, `READY for ${asked}: ${images} checked`].join('\n')
  return [...notes, ...consumerLines(report).map((l) => `NOT READY ${l}`)].join('\n')
}
