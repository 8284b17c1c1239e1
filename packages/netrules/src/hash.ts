/**
 * kube-proxy's chain-name hash: the first characters of base32(sha256(text)).
 *
 * A full sync hashes one name per endpoint (110k at 10k services x 10 endpoints). The inputs are
 * short (one or two 64-byte blocks), where a call into OpenSSL costs more in setup than in
 * hashing: this SHA-256 (FIPS 180-4) over a reused block buffer is ~1.5x faster than
 * `crypto.hash` for them. `hash.test.ts` checks it against node:crypto.
 */

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98,
  0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174, 0xe49b69c1, 0xefbe4786,
  0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8,
  0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13,
  0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a,
  0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7,
  0xc67178f2,
]);
const INITIAL = Int32Array.from([
  0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19,
]);

const schedule = new Int32Array(64);
const state = new Int32Array(8);
const encoder = new TextEncoder();
let message = new Uint8Array(256);

/** Writes `text` as UTF-8 into `message` (grown as needed); returns the byte length. */
function encode(text: string): number {
  const n = text.length;
  if (message.length < n * 3 + 72) message = new Uint8Array(n * 3 + 72);
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c > 127) return encoder.encodeInto(text, message).written;
    message[i] = c;
  }
  return n;
}

/** SHA-256 of `text` (UTF-8) into `state`, as eight big-endian words. */
function sha256(text: string): Int32Array {
  const length = encode(text);
  // Padding: 0x80, zeros, then the bit length as a 64-bit big-endian number (texts here are far
  // below 2^29 bytes, so the high word is zero).
  const total = ((length + 9 + 63) >> 6) << 6;
  message.fill(0, length, total);
  message[length] = 0x80;
  const bits = length * 8;
  message[total - 4] = bits >>> 24;
  message[total - 3] = (bits >>> 16) & 255;
  message[total - 2] = (bits >>> 8) & 255;
  message[total - 1] = bits & 255;
  state.set(INITIAL);
  const w = schedule;
  for (let block = 0; block < total; block += 64) {
    for (let i = 0; i < 16; i++) {
      const j = block + i * 4;
      w[i] = (message[j]! << 24) | (message[j + 1]! << 16) | (message[j + 2]! << 8) | message[j + 3]!;
    }
    for (let i = 16; i < 64; i++) {
      const x = w[i - 15]!;
      const y = w[i - 2]!;
      const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
      const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
      w[i] = (w[i - 16]! + s0 + w[i - 7]! + s1) | 0;
    }
    let a = state[0]!;
    let b = state[1]!;
    let c = state[2]!;
    let d = state[3]!;
    let e = state[4]!;
    let f = state[5]!;
    let g = state[6]!;
    let h = state[7]!;
    for (let i = 0; i < 64; i++) {
      const s1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
      const t1 = (h + s1 + ((e & f) ^ (~e & g)) + K[i]! + w[i]!) | 0;
      const s0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
      const t2 = (s0 + ((a & b) ^ (a & c) ^ (b & c))) | 0;
      h = g;
      g = f;
      f = e;
      e = (d + t1) | 0;
      d = c;
      c = b;
      b = a;
      a = (t1 + t2) | 0;
    }
    state[0]! += a;
    state[1]! += b;
    state[2]! += c;
    state[3]! += d;
    state[4]! += e;
    state[5]! += f;
    state[6]! += g;
    state[7]! += h;
  }
  return state;
}

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/**
 * The first `length` (at most 51) base32 (RFC 4648) characters of sha256(text): kube-proxy's
 * chain-name hash (16 characters for iptables chains, 8 for nftables).
 */
export function hashName(text: string, length: number): string {
  if (!Number.isInteger(length) || length < 0 || length > 51) {
    throw new RangeError(`hashName: length ${length} out of range 0-51`);
  }
  const words = sha256(text);
  let out = "";
  let acc = 0; // the next unread bits of the digest, `bits` of them
  let bits = 0;
  let half = 0; // 16-bit halves of the digest consumed
  while (out.length < length) {
    if (bits < 5) {
      const word = words[half >> 1]!;
      acc = ((acc << 16) | (half & 1 ? word & 0xffff : word >>> 16)) & 0x1fffff;
      bits += 16;
      half++;
    }
    bits -= 5;
    out += ALPHABET[(acc >>> bits) & 31];
  }
  return out;
}
