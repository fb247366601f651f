// Coded errors carry their exit status; anything else is a bug and exits 1.
export function exitCodeOf (err: unknown): number {
  if (typeof err === 'object' && err !== null && 'exitCode' in err && typeof err.exitCode === 'number') return err.exitCode
  return 1
}
