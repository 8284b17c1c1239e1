import * as crypto from "node:crypto";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

// crypto.hash (Node >= 21.7) is a one-shot digest, several times cheaper than createHash().
const oneShot = (crypto as { hash?: (alg: string, data: string, enc: "buffer") => Buffer }).hash;
const sha256 = oneShot
  ? (text: string) => oneShot("sha256", text, "buffer")
  : (text: string) => crypto.createHash("sha256").update(text).digest();

/** The first `length` base32 (RFC 4648) characters of sha256(text): kube-proxy's chain-name hash. */
export function hashName(text: string, length: number): string {
  const bytes = sha256(text);
  let out = "";
  let bits = 0;
  let value = 0;
  for (let i = 0; i < bytes.length && out.length < length; i++) {
    value = ((value << 8) | bytes[i]!) & 0xffff;
    bits += 8;
    while (bits >= 5 && out.length < length) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  return out;
}
