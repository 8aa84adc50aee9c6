// Terminal columns, not string lengths: CJK characters and most emoji take
// two, combining marks none. Padding and truncation for tables go through here.
import stringWidth from 'string-width'

export function textWidth(s: string): number {
  return stringWidth(s)
}

export function padEnd(s: string, columns: number): string {
  return s + ' '.repeat(Math.max(0, columns - stringWidth(s)))
}

/** Long paths keep their start and their file name: "models/very/…/name.safetensors". */
export function truncateMiddle(s: string, columns: number): string {
  if (stringWidth(s) <= columns) return s
  if (columns <= 1) return '…'.slice(0, columns)
  const chars = [...s]
  const tailBudget = Math.floor((columns - 1) / 2)
  const tail = takeColumns(chars.slice().reverse(), tailBudget).reverse()
  const head = takeColumns(chars, columns - 1 - width(tail))
  return `${head.join('')}…${tail.join('')}`
}

/** Text cut at the end: "connection reset by…". */
export function truncateEnd(s: string, columns: number): string {
  if (stringWidth(s) <= columns) return s
  if (columns <= 1) return '…'.slice(0, columns)
  return `${takeColumns([...s], columns - 1).join('')}…`
}

/** The columns of the terminal stdout is, or undefined when it is not one (a pipe, a file): then nothing is cut. */
export function terminalWidth(stream: NodeJS.WriteStream = process.stdout): number | undefined {
  return stream.isTTY && stream.columns > 0 ? stream.columns : undefined
}

function takeColumns(chars: string[], columns: number): string[] {
  const out: string[] = []
  let used = 0
  for (const c of chars) {
    const w = stringWidth(c)
    if (used + w > columns) break
    out.push(c)
    used += w
  }
  return out
}

function width(chars: string[]): number {
  return chars.reduce((n, c) => n + stringWidth(c), 0)
}
