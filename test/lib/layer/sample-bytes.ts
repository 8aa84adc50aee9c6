/** Deterministic, non-trivial bytes for tar tests: a byte-shift error cannot go unnoticed. */
export function content(size: number, seed = 1): Buffer {
  const b = Buffer.alloc(size)
  let x = seed * 2654435761
  for (let i = 0; i < size; i++) {
    x = (Math.imul(x, 1103515245) + 12345) >>> 0
    b[i] = x >>> 24
  }
  return b
}
