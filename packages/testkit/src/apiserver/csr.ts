import { createPublicKey, type KeyObject, verify } from "node:crypto";

/**
 * A PKCS#10 certificate request as the CSR signers and approver read it (certapi.ParseCSR):
 * subject CN and O, the SANs of its extensionRequest, and its public key. The signature is
 * checked.
 */
export interface ParsedCsr {
  commonName: string;
  organizations: string[];
  dnsNames: string[];
  ipAddresses: string[];
  emailAddresses: string[];
  uris: string[];
  publicKey: KeyObject;
}

interface Node {
  tag: number;
  /** The whole element (tag, length and content). */
  raw: Buffer;
  content: Buffer;
}

function read(buf: Buffer, at = 0): Node {
  const tag = buf[at]!;
  let len = buf[at + 1]!;
  let off = at + 2;
  if (len & 0x80) {
    const n = len & 0x7f;
    len = 0;
    for (let i = 0; i < n; i++) len = len * 256 + buf[off + i]!;
    off += n;
  }
  if (off + len > buf.length) throw new Error("truncated DER");
  return { tag, raw: buf.subarray(at, off + len), content: buf.subarray(off, off + len) };
}

function children(n: Node): Node[] {
  const out: Node[] = [];
  for (let at = 0; at < n.content.length; ) {
    const c = read(n.content, at);
    out.push(c);
    at += c.raw.length;
  }
  return out;
}

function oidString(b: Buffer): string {
  const parts = [Math.floor(b[0]! / 40), b[0]! % 40];
  let v = 0;
  for (const byte of b.subarray(1)) {
    v = v * 128 + (byte & 0x7f);
    if (!(byte & 0x80)) {
      parts.push(v);
      v = 0;
    }
  }
  return parts.join(".");
}

const SIGNATURE_HASH: Record<string, string> = {
  "1.2.840.10045.4.3.2": "sha256",
  "1.2.840.10045.4.3.3": "sha384",
  "1.2.840.10045.4.3.4": "sha512",
  "1.2.840.113549.1.1.11": "sha256",
  "1.2.840.113549.1.1.12": "sha384",
  "1.2.840.113549.1.1.13": "sha512",
  "1.3.101.112": "",
};

/** Parses and verifies a PEM `CERTIFICATE REQUEST`; throws an Error naming what is wrong. */
export function parseCsr(pem: string): ParsedCsr {
  const m = pem.match(/-----BEGIN CERTIFICATE REQUEST-----([\s\S]+?)-----END CERTIFICATE REQUEST-----/);
  if (!m) throw new Error("PEM block type must be CERTIFICATE REQUEST");
  const der = Buffer.from(m[1]!.replace(/\s+/g, ""), "base64");
  const [info, algorithm, signature] = children(read(der));
  if (!info || !algorithm || !signature) throw new Error("x509: malformed certificate request");
  const [, subject, spki, attributes] = children(info);
  if (!subject || !spki) throw new Error("x509: malformed certificate request");
  const publicKey = createPublicKey({ key: spki.raw, format: "der", type: "spki" });
  const algOid = oidString(children(algorithm)[0]!.content);
  const hash = SIGNATURE_HASH[algOid];
  if (hash === undefined) throw new Error(`x509: unsupported signature algorithm ${algOid}`);
  const sig = signature.content.subarray(1); // BIT STRING: skip the unused-bits byte
  if (!verify(hash || null, info.raw, publicKey, sig)) throw new Error("x509: ECDSA verification failure");
  const out: ParsedCsr = {
    commonName: "",
    organizations: [],
    dnsNames: [],
    ipAddresses: [],
    emailAddresses: [],
    uris: [],
    publicKey,
  };
  for (const rdn of children(subject))
    for (const atv of children(rdn)) {
      const [type, value] = children(atv);
      const id = oidString(type!.content);
      const text = value!.content.toString("utf8");
      if (id === "2.5.4.3") out.commonName = text;
      if (id === "2.5.4.10") out.organizations.push(text);
    }
  for (const attr of attributes ? children(attributes) : []) {
    const [type, values] = children(attr);
    if (oidString(type!.content) !== "1.2.840.113549.1.9.14") continue;
    for (const exts of children(values!))
      for (const e of children(exts)) {
        const parts = children(e);
        if (oidString(parts[0]!.content) !== "2.5.29.17") continue;
        const names = read(parts[parts.length - 1]!.content);
        for (const gn of children(names)) {
          const t = gn.tag & 0x1f;
          if (t === 2) out.dnsNames.push(gn.content.toString("ascii"));
          else if (t === 1) out.emailAddresses.push(gn.content.toString("ascii"));
          else if (t === 6) out.uris.push(gn.content.toString("ascii"));
          else if (t === 7)
            out.ipAddresses.push(
              gn.content.length === 4
                ? [...gn.content].join(".")
                : (gn.content.toString("hex").match(/.{4}/g) ?? []).join(":"),
            );
        }
      }
  }
  return out;
}
