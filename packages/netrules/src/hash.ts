import { createHash } from "node:crypto";

const ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";

/** RFC 4648 base32 (standard alphabet), enough characters for `length`. */
function base32Prefix(bytes: Uint8Array, length: number): string {
  let out = "";
  let bits = 0;
  let value = 0;
  for (const b of bytes) {
    value = (value << 8) | b;
    bits += 8;
    while (bits >= 5) {
      out += ALPHABET[(value >>> (bits - 5)) & 31];
      bits -= 5;
      if (out.length >= length) return out;
    }
    value &= (1 << bits) - 1;
  }
  return out;
}

/** The first `length` base32 characters of sha256(text): kube-proxy's chain-name hash. */
export function hashName(text: string, length: number): string {
  return base32Prefix(createHash("sha256").update(text).digest(), length);
}
