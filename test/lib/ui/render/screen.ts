// A small terminal for tests: it applies what a live view writes (text, CR,
// LF, cursor up, erase to end of screen or line) to a grid of lines and keeps
// the last `rows` of them, as a terminal of that height shows.

const CONTROL = /\u001B\[([0-9;?]*)([A-Za-z])|\r|\n|[^\u001B\r\n]+/g

export function screen(written: string, rows = 24): string[] {
  const lines: string[] = ['']
  let row = 0
  let col = 0
  for (const match of written.matchAll(CONTROL)) {
    const [token, params, command] = match
    if (token === '\r') col = 0
    else if (token === '\n') {
      row++
      col = 0
      if (row >= lines.length) lines.push('')
    } else if (command === 'A') row = Math.max(0, row - Number(params || 1))
    else if (command === 'J') {
      lines[row] = lines[row].slice(0, col)
      lines.length = row + 1
    } else if (command === 'K') lines[row] = lines[row].slice(0, col)
    else if (command === undefined) {
      const chars = [...lines[row]]
      const text = [...token]
      while (chars.length < col) chars.push(' ')
      chars.splice(col, text.length, ...text)
      lines[row] = chars.join('')
      col += text.length
    }
    // Colours, cursor visibility: nothing to place.
  }
  return lines.slice(-rows)
}

/** What a terminal shows without colours. */
export function plain(lines: string[]): string[] {
  return lines.map((line) => line.replaceAll(/\u001B\[[0-9;?]*[A-Za-z]/g, ''))
}
