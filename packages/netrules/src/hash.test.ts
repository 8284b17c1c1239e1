import { createHash } from "node:crypto";
import { describe, expect, it } from "vitest";
import { hashName } from "./hash.js";

/** The reference: node:crypto's SHA-256, base32 without padding, cut to `length`. */
function referenceHash(text: string, length: number): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const byte of createHash("sha256").update(text, "utf8").digest())
    bits += byte.toString(2).padStart(8, "0");
  let out = "";
  for (let i = 0; i + 5 <= bits.length && out.length < length; i += 5)
    out += alphabet[Number.parseInt(bits.slice(i, i + 5), 2)];
  return out;
}

describe("hashName", () => {
  it("matches kube-proxy's chain names", () => {
    // KUBE-SVC-XPGD46QRK7WJZT7O and KUBE-SEP-SXIVWICOYRO3J4NJ are ns1/svc1:p80 (TCP) and its
    // endpoint 10.180.0.1:80 in the expected rules of pkg/proxy/iptables/proxier_test.go.
    expect(hashName("ns1/svc1:p80tcp", 16)).toBe("XPGD46QRK7WJZT7O");
    expect(hashName("ns1/svc1:p80tcp10.180.0.1:80", 16)).toBe("SXIVWICOYRO3J4NJ");
  });

  it("equals SHA-256 + base32 from node:crypto on every message length, ASCII or not", () => {
    const texts: string[] = [""];
    // Lengths around the one- and two-block padding boundaries (55/56, 119/120 bytes).
    for (let n = 1; n <= 200; n++)
      texts.push("abcdefghijklmnopqrstuvwxyz0123456789/.-_:[]".repeat(5).slice(0, n));
    texts.push(
      "ns/svc/tcp/http__fd00.10..1/8080",
      "naïve/sérvice:πort",
      "名前空間/サービス",
      "emoji 🚀 in a name",
    );
    texts.push("x".repeat(5000));
    for (const text of texts) {
      for (const length of [8, 16, 51])
        expect(hashName(text, length), `${text} (${length})`).toBe(referenceHash(text, length));
    }
  });

  it("rejects lengths it cannot produce", () => {
    expect(() => hashName("a", 52)).toThrow(/length 52 out of range 0-51/);
  });
});
