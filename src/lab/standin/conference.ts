// A Lync conference's SIP URI, as the focus publishes it: the organizer, the domain and the meeting
// id. The Meet page (meet.ts) and UCWA's meetings (ucwa/meetings.ts) both name meetings this way.
export function conferenceUri (alias: string, domain: string, id: string): string {
  return `sip:${alias}@${domain};gruu;opaque=app:conf:focus:id:${id}`
}
