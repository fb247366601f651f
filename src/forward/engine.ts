// What forward.ts and forward-state.ts ask of the engine that carries an exchange. Two engines
// implement it as object constants (undiciEngine in undici-engine.ts, nodeEngine in node-engine.ts),
// so choosing one costs a reference, not an allocation: forward.ts chooses once per request and
// stores it on the ForwardState; the retry, the proxy's own answer mid-request, the client's
// departure and the body limit all go through state.engine. Each method finds the attempt it acts
// on through the state, as the handlers find their state on the emitter.
import type { ForwardState } from './forward-state.js'

export interface ForwardEngine {
  // Sends (or sends again, after a retry) the request to state.member, counted by beginAttempt.
  send (state: ForwardState): void
  // The upstream request goes: the client left, or the proxy answers instead. Harmless when there
  // is no attempt or it has ended.
  abort (state: ForwardState): void
  // The proxy refused the rest of a streaming request body (413): nothing more goes upstream.
  stopBody (state: ForwardState): void
}
