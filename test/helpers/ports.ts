// A port that was free a moment ago on `address`: for configs that must name a port before anything
// listens on it (an admin plane, a "refused" upstream).
import net from 'node:net'

export async function freePort (address = '127.0.0.1'): Promise<number> {
  const server = net.createServer()
  await new Promise<void>((resolve) => server.listen(0, address, resolve))
  const port = (server.address() as net.AddressInfo).port
  await new Promise<void>((resolve) => server.close(() => resolve()))
  return port
}
