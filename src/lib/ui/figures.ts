// The symbols the progress views print: listr2's set (so the lines read as
// before), without loading listr2 and its dependencies for four characters.
// A Windows console without a Unicode-capable terminal gets the fallbacks.

const MAIN = {pointer: '❯', tick: '✔', cross: '✖', arrowDown: '↓'}
const FALLBACK = {...MAIN, pointer: '>', tick: '√', cross: '×'}

/** listr2's test of the same name: every platform but a bare Windows console. */
function isUnicodeSupported(env: NodeJS.ProcessEnv = process.env): boolean {
  return (
    Boolean(env.LISTR_FORCE_UNICODE) ||
    process.platform !== 'win32' ||
    Boolean(env.CI) ||
    Boolean(env.WT_SESSION) ||
    env.TERM_PROGRAM === 'vscode' ||
    env.TERM === 'xterm-256color' ||
    env.TERM === 'alacritty'
  )
}

export const figures = isUnicodeSupported() ? MAIN : FALLBACK
