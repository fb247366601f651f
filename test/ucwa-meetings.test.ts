// The myOnlineMeetings POST body as myOnlineMeetings_ref.md gives it, the organizer's bound, the
// conference URI a guest's ticket names, and who a meeting admits (AccessLevel_ref.md).
// (The whole flow, through the proxy to the join URL, is in ucwa-client.test.ts.)
import fc from 'fast-check'
import t from 'tap'
import { conferenceUri, parseConferenceUri } from '../src/lab/standin/conference.js'
import type { UcwaApplication } from '../src/lab/standin/ucwa/applications.js'
import { admits } from '../src/lab/standin/ucwa/meeting-conversation.js'
import { MAX_MEETINGS_PER_ORGANIZER, MeetingRegistry, meetingInput, type MeetingInput, type OnlineMeeting } from '../src/lab/standin/ucwa/meetings.js'

const now = Date.UTC(2026, 11, 3)
const year = 365.25 * 24 * 3600_000

t.test('the request body: defaults, enumerations, lists, expirationTime', async (t) => {
  t.match(meetingInput(undefined, now), {
    subject: '', description: '', attendees: [], leaders: [], expirationTime: now + 8 * 3600_000,
    choices: { accessLevel: 'SameEnterprise', automaticLeaderAssignment: 'Disabled', entryExitAnnouncement: 'Disabled', phoneUserAdmission: 'Disabled', lobbyBypassForPhoneUsers: 'Disabled' },
  })
  t.match(meetingInput({ AccessLevel: 'Everyone', Subject: 's' }, now), { subject: 's', choices: { accessLevel: 'Everyone' } }, 'names in any case, as elsewhere in UCWA')
  t.match(meetingInput({ expirationTime: `/Date(${now + 3600_000})/` }, now), { expirationTime: now + 3600_000 })
  const refused: Array<[Record<string, unknown>, RegExp]> = [
    [{ subject: 1 }, /subject and description must be strings/],
    [{ attendees: 'sip:a@b' }, /attendees and leaders must be lists/],
    [{ leaders: [1] }, /attendees and leaders must be lists/],
    [{ phoneUserAdmission: 'Maybe' }, /phoneUserAdmission must be one of Disabled, Enabled/],
    [{ expirationTime: '2026-12-03' }, /expirationTime must be a date such as/],
    [{ expirationTime: `/Date(${now + 11 * year})/` }, /between one year before and ten years after/],
    [{ expirationTime: `/Date(${now - 2 * year})/` }, /between one year before and ten years after/],
  ]
  for (const [body, message] of refused) t.match(meetingInput(body, now), message, JSON.stringify(body))
})

t.test('meetings belong to their organizer; the lab keeps a bounded number of them', async (t) => {
  const registry = new MeetingRegistry()
  const input = meetingInput({}, now) as MeetingInput
  const first = registry.create('user1@contoso.com', input)!
  t.match(first.id, /^[A-Z2-9]{8}$/)
  t.equal(registry.find('user1@contoso.com', first.id.toLowerCase()), first, 'the id in any case')
  t.equal(registry.find('user2@contoso.com', first.id), undefined, "another organizer's meeting is not found")
  let made = 1
  while (made < MAX_MEETINGS_PER_ORGANIZER && registry.create('user1@contoso.com', input) !== undefined) made++
  t.equal(made, MAX_MEETINGS_PER_ORGANIZER, 'up to the bound')
  t.equal(registry.create('user1@contoso.com', input), undefined, 'one past the bound: refused (409 TooManyOnlineMeetings)')
  t.ok(registry.create('user2@contoso.com', input), 'the bound is per organizer')
  registry.remove(first.id)
  t.ok(registry.create('user1@contoso.com', input), 'room again once one is deleted')
})

t.test('a conference URI: read back from what the lab writes, and nothing else taken for one', async (t) => {
  t.same(parseConferenceUri('sip:John@Contoso.com;gruu;opaque=app:conf:focus:id:g03w98w4'), { organizer: 'john@contoso.com', id: 'G03W98W4' }, 'AuthenticationInUCWA.md\'s example, in any case')
  t.same(parseConferenceUri('sip : john@contoso.com ; gruu;opaque=app:conf:focus:id:G03W98W4'), { organizer: 'john@contoso.com', id: 'G03W98W4' }, 'spaces are not part of it')
  for (const not of ['sip:john@contoso.com', 'sip:john@contoso.com;gruu;opaque=app:conf:focus:id:', 'john@contoso.com;gruu;opaque=app:conf:focus:id:X1', 'sip:john@contoso.com;gruu;opaque=app:conf:focus:id:X1;extra']) {
    t.equal(parseConferenceUri(not), undefined, not)
  }
  const part = fc.stringMatching(/^[a-z0-9][a-z0-9.-]{0,20}$/)
  fc.assert(fc.property(part, part, fc.stringMatching(/^[A-Z0-9]{1,16}$/), (alias, domain, id) => {
    const parsed = parseConferenceUri(conferenceUri(alias, domain, id))
    return parsed !== undefined && parsed.organizer === `${alias}@${domain}` && parsed.id === id
  }))
  // Any text: an answer, never a throw.
  fc.assert(fc.property(fc.string({ maxLength: 300 }), (s) => { parseConferenceUri(s); return true }))
})

t.test('who a meeting admits without a lobby', async (t) => {
  const registry = new MeetingRegistry()
  const meeting = (accessLevel: string): OnlineMeeting =>
    registry.create('user1@contoso.com', meetingInput({ accessLevel, attendees: ['sip:user2@contoso.com'] }, now) as MeetingInput)!
  const app = (sipUri: string, guest = false): UcwaApplication => ({ user: { sipUri, password: '' }, ...(guest ? { guest: { conference: '', name: 'g' } } : {}) }) as unknown as UcwaApplication
  const organizer = app('user1@contoso.com')
  const invited = app('sip:User2@contoso.com')
  const other = app('user3@contoso.com')
  const guest = app('123@anonymous.invalid', true)
  const table: Array<[string, boolean[]]> = [
    ['Everyone', [true, true, true, true]],
    ['SameEnterprise', [true, true, true, false]],
    ['Invited', [true, true, false, false]],
    ['Locked', [true, false, false, false]],
  ]
  for (const [level, expected] of table) {
    const m = meeting(level)
    t.same([organizer, invited, other, guest].map((a) => admits(m, a)), expected, level)
  }
})
