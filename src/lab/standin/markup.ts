// Aliases, meeting ids and query strings come from the request; they are escaped before they are put
// into an HTML page or an XML attribute so that a crafted URL cannot inject markup into a lab page.
const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

export function escapeMarkup (text: string): string {
  return text.replace(/[&<>"']/g, (c) => ENTITIES[c] ?? c)
}
