// A PKCS#10 certificate request (RFC 2986) in DER, built by hand: Node.js can sign with a key but
// has no API to write a CSR. Only what a kubelet asks for: a subject of O and CN attributes and,
// for serving certificates, a subjectAltName extension of DNS names and IP addresses.
import { createPublicKey, type KeyObject, sign } from "node:crypto";
import { isIP } from "node:net";

function length(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  for (let v = n; v > 0; v = Math.floor(v / 256)) bytes.unshift(v & 0xff);
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}

function tlv(tag: number, ...content: Buffer[]): Buffer {
  const body = Buffer.concat(content);
  return Buffer.concat([Buffer.from([tag]), length(body.length), body]);
}

const seq = (...c: Buffer[]) => tlv(0x30, ...c);
const set = (...c: Buffer[]) => tlv(0x31, ...c);

function oid(dotted: string): Buffer {
  const [a = 0, b = 0, ...rest] = dotted.split(".").map(Number);
  const bytes = [40 * a + b];
  for (const n of rest) {
    const part = [n & 0x7f];
    for (let v = Math.floor(n / 128); v > 0; v = Math.floor(v / 128)) part.unshift(0x80 | (v & 0x7f));
    bytes.push(...part);
  }
  return tlv(0x06, Buffer.from(bytes));
}

const OID = {
  organization: "2.5.4.10",
  commonName: "2.5.4.3",
  extensionRequest: "1.2.840.113549.1.9.14",
  subjectAltName: "2.5.29.17",
  ecdsaWithSha256: "1.2.840.10045.4.3.2",
  sha256WithRsa: "1.2.840.113549.1.1.11",
};

const utf8 = (s: string) => tlv(0x0c, Buffer.from(s, "utf8"));

function ipBytes(ip: string): Buffer {
  if (isIP(ip) === 4) return Buffer.from(ip.split(".").map(Number));
  // IPv6: expand "::" and write 8 groups of 16 bits
  const [head = "", tail] = ip.split("::");
  const h = head ? head.split(":") : [];
  const t = tail ? tail.split(":") : [];
  const groups = tail === undefined ? h : [...h, ...Array(8 - h.length - t.length).fill("0"), ...t];
  return Buffer.from(groups.flatMap((g) => [parseInt(g, 16) >> 8, parseInt(g, 16) & 0xff]));
}

/** What goes into a kubelet's certificate request. */
export interface CsrSubject {
  commonName: string;
  organizations: readonly string[];
  /** subjectAltName DNS names (serving certificates only). */
  dnsNames?: readonly string[];
  /** subjectAltName IP addresses (serving certificates only). */
  ipAddresses?: readonly string[];
}

/**
 * A PEM `CERTIFICATE REQUEST` for `subject`, signed with `privateKey` (ECDSA P-256 as the kubelet
 * generates, or RSA). The subject lists O before CN, the order Go's pkix.Name writes.
 */
export function createCsrPem(subject: CsrSubject, privateKey: KeyObject): string {
  for (const ip of subject.ipAddresses ?? [])
    if (isIP(ip) === 0) throw new Error(`certificate request: ${JSON.stringify(ip)} is not an IP address`);
  const rdns = [
    ...subject.organizations.map((o) => set(seq(oid(OID.organization), utf8(o)))),
    set(seq(oid(OID.commonName), utf8(subject.commonName))),
  ];
  const names = [
    ...(subject.dnsNames ?? []).map((d) => tlv(0x82, Buffer.from(d, "ascii"))),
    ...(subject.ipAddresses ?? []).map((ip) => tlv(0x87, ipBytes(ip))),
  ];
  const attributes =
    names.length === 0
      ? tlv(0xa0)
      : tlv(
          0xa0,
          seq(oid(OID.extensionRequest), set(seq(seq(oid(OID.subjectAltName), tlv(0x04, seq(...names)))))),
        );
  const spki = createPublicKey(privateKey).export({ type: "spki", format: "der" });
  const info = seq(tlv(0x02, Buffer.from([0])), seq(...rdns), spki, attributes);
  const rsa = privateKey.asymmetricKeyType === "rsa";
  const algorithm = rsa ? seq(oid(OID.sha256WithRsa), tlv(0x05)) : seq(oid(OID.ecdsaWithSha256));
  const signature = sign("sha256", info, privateKey);
  const der = seq(info, algorithm, tlv(0x03, Buffer.from([0]), signature));
  const b64 = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN CERTIFICATE REQUEST-----\n${b64.join("\n")}\n-----END CERTIFICATE REQUEST-----\n`;
}
