// A Lync conference's SIP URI, as the focus publishes it: the organizer, the domain and the meeting
// id (RootURL.md, "Anonymous meeting join flow": <Organizer SIP URI>;gruu;opaque=app:conf:focus:id:<Conference ID>).
// The Meet page (meet.ts), UCWA's meetings (ucwa/meetings.ts), the anonmeeting grant
// (webticket/routes.ts) and joinOnlineMeeting (ucwa/meeting-join-routes.ts) all name meetings this way.
export function conferenceUri (alias: string, domain: string, id: string): string {
  return `sip:${alias}@${domain};gruu;opaque=app:conf:focus:id:${id}`
}

export interface ConferenceName { organizer: string; id: string }

// The organizer (alias@domain, lower case) and the meeting id of a conference URI, or undefined when
// it is not one. Spaces are not part of it: the URI travels form-encoded, and a client that sends
// "sip : john@…" (joinOnlineMeeting_ref.md's sample) means the same URI.
export function parseConferenceUri (uri: string): ConferenceName | undefined {
  const m = /^sip:([^;@\s]+)@([^;@\s]+);gruu;opaque=app:conf:focus:id:([A-Za-z0-9]{1,32})$/i.exec(uri.replace(/\s+/g, ''))
  if (m === null) return undefined
  return { organizer: `${m[1]!}@${m[2]!}`.toLowerCase(), id: m[3]!.toUpperCase() }
}
