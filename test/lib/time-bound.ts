// Complexity checks without machine-load flakes: on these inputs a linear
// (or capped) pass takes milliseconds and a backtracking or quadratic one takes
// minutes to hours, so the bound sits far above the first (a busy CI machine
// cannot fail it) and far below the second.
export const COMPLEXITY_BOUND_MS = 10_000

export function timed<T>(fn: () => T): {value: T; ms: number} {
  const t = performance.now()
  const value = fn()
  return {value, ms: performance.now() - t}
}
