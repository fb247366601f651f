// MD4 (RFC 1320), which NTLM needs for the NT hash of a password. OpenSSL 3 keeps MD4 in its legacy
// provider, which Node does not load, so crypto.createHash('md4') fails; the codec carries its own.
// Only ever used for that hash, never for integrity.

const ROUND2_ORDER = [0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15]
const ROUND3_ORDER = [0, 8, 4, 12, 2, 10, 6, 14, 1, 9, 5, 13, 3, 11, 7, 15]
const SHIFTS = [[3, 7, 11, 19], [3, 5, 9, 13], [3, 9, 11, 15]] as const
const CONSTANTS = [0, 0x5a827999, 0x6ed9eba1] as const

const rounds: Array<(x: number, y: number, z: number) => number> = [
  (x, y, z) => (x & y) | (~x & z),
  (x, y, z) => (x & y) | (x & z) | (y & z),
  (x, y, z) => x ^ y ^ z,
]

function rotl (v: number, s: number): number {
  return ((v << s) | (v >>> (32 - s))) >>> 0
}

function pad (message: Buffer): Buffer {
  // 0x80, zeros up to 56 mod 64, then the length in bits as 64-bit little-endian.
  const padded = Buffer.alloc((((message.length + 8) >> 6) + 1) << 6)
  message.copy(padded)
  padded[message.length] = 0x80
  padded.writeBigUInt64LE(BigInt(message.length) * 8n, padded.length - 8)
  return padded
}

export function md4 (message: Buffer): Buffer {
  const state = [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476]
  const data = pad(message)
  const x = new Array<number>(16)
  for (let block = 0; block < data.length; block += 64) {
    for (let i = 0; i < 16; i++) x[i] = data.readUInt32LE(block + i * 4)
    const r = [...state]
    for (let round = 0; round < 3; round++) {
      const f = rounds[round]!
      for (let step = 0; step < 16; step++) {
        // The register updated cycles a, d, c, b; the other three follow it in order.
        const t = (4 - (step % 4)) % 4
        const k = round === 0 ? step : round === 1 ? ROUND2_ORDER[step]! : ROUND3_ORDER[step]!
        const sum = (r[t]! + f(r[(t + 1) % 4]!, r[(t + 2) % 4]!, r[(t + 3) % 4]!) + x[k]! + CONSTANTS[round]!) >>> 0
        r[t] = rotl(sum, SHIFTS[round]![step % 4]!)
      }
    }
    for (let i = 0; i < 4; i++) state[i] = (state[i]! + r[i]!) >>> 0
  }
  const out = Buffer.alloc(16)
  state.forEach((v, i) => out.writeUInt32LE(v, i * 4))
  return out
}
