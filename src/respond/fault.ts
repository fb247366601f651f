// A fault in the proxy's own code while it served one exchange. That exchange ends: answered 500 when
// nothing had gone out yet, else by closing its connection. The error goes on its record, which the
// error log writes under the exchange's id, and every other exchange carries on. Exiting instead would
// drop every connection the process holds (thousands of held UCWA event channels) for one request.
import type { ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import type { Exchange } from '../observe/exchange.js'
import { INTERNAL_FAILURE } from './failure.js'
import { sendFailure } from './local-response.js'

export function containFault (ex: Exchange, res: ServerResponse | undefined, socket: Socket | undefined, err: unknown): void {
  if (ex.fault === undefined) ex.fault = err
  ex.error = INTERNAL_FAILURE.code
  try {
    if (res === undefined) socket?.destroy()
    else if (!res.headersSent && !res.destroyed) sendFailure(res, INTERNAL_FAILURE, undefined)
    else res.destroy()
  } catch {
    res?.destroy()
  }
}
