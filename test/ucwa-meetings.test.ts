// The myOnlineMeetings POST body as myOnlineMeetings_ref.md gives it, and the organizer's bound.
// (The whole flow, through the proxy to the join URL, is in ucwa-client.test.ts.)
import t from 'tap'
import { MAX_MEETINGS_PER_ORGANIZER, MeetingRegistry, meetingInput, type MeetingInput } from '../src/lab/standin/ucwa/meetings.js'

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
