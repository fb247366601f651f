import { listenErrno } from '../errors.js'

// With ephemeral ports, the first member of a pool binds port 0 and its siblings take the port it
// was given on their own addresses. That port is free on the first member's address, not
// necessarily on the siblings' (another lab, in another test, may hold it there). On such a clash
// the pool's members start again on a newly picked port; a few tries make a failure vanishingly rare.
const PORT_CLASH_TRIES = 5

// `start` must leave nothing listening when it fails. A clash shows as EADDRINUSE, also inside the
// coded error a stand-in's listen failure becomes.
export async function withFreshPortsOnClash<T> (ephemeral: boolean, start: () => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await start()
    } catch (err) {
      if (!ephemeral || listenErrno(err) !== 'EADDRINUSE' || attempt >= PORT_CLASH_TRIES) throw err
    }
  }
}
