/** Quotes a string the way Go's %q does for printable ASCII (kubelet messages use %q). */
export function quoteGo(s: string): string {
  return JSON.stringify(s);
}
