// Lync explains authentication failures in an X-Ms-diagnostics header (code;source;reason); clients
// and admins read it, and proxy tests check that it survives the proxy.
export function msDiagnostics (code: number, source: string, reason: string): string {
  return `${code};source="${source}";reason="${reason}"`
}
