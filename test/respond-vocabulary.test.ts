// The answers the proxy gives itself (src/respond): every named failure has a status line a client can
// read, with its own reason phrase, also when it is written raw on a socket that left the HTTP server.
import type { Socket } from 'node:net'
import t from 'tap'
import { CLIENT_CLOSED_REQUEST, UpstreamFailures, VOCABULARY, type Failure } from '../src/respond/failure.js'
import { reasonPhrase, writeRawFailure } from '../src/respond/local-response.js'

t.test('every failure in the vocabulary has a reason phrase', async (t) => {
  t.ok(VOCABULARY.length > 20, 'the vocabulary is listed whole')
  for (const failure of VOCABULARY) {
    const phrase = reasonPhrase(failure.status)
    t.ok(phrase !== undefined && phrase !== '', `${failure.status} ${failure.code}: "${phrase}"`)
  }
  t.ok(VOCABULARY.includes(UpstreamFailures.noHealthyMember), 'the upstream failures are in it')
  t.equal(reasonPhrase(CLIENT_CLOSED_REQUEST), 'Client Closed Request', 'and 499, which only the log carries')
  t.equal(new Set(VOCABULARY.map((f) => f.code)).size, VOCABULARY.length, 'no two share a code')
})

t.test('a raw refusal writes the status line with its own reason phrase', async (t) => {
  let written = ''
  const socket = { writable: true, end: (s: string) => { written = s }, destroy: () => {} } as unknown as Socket
  const failure: Failure = { status: 414, code: 'uri_too_long', reason: 'too long' }
  writeRawFailure(socket, failure, undefined)
  t.match(written, /^HTTP\/1\.1 414 URI Too Long\r\n/)
})
