import { generateKeyPairSync, type KeyObject, randomBytes, sign } from "node:crypto";
import { isIPv4 } from "node:net";
import { parseCsr } from "./csr.js";

/**
 * Minimal X.509 v3 issuance with node:crypto (ECDSA P-256 / SHA-256): DER is assembled by hand so
 * certificates are created synchronously and without third-party ASN.1 stacks.
 */

/** A PEM certificate with its PKCS#8 private key. */
export interface CertPair {
  certPem: string;
  keyPem: string;
}

/** The certificate authority plus the serving certificate of one simulator instance. */
export interface ServerPki {
  ca: CertPair;
  serving: CertPair;
  /** Issues a client certificate: CN = user name, O = groups (how kube-apiserver maps x509 identities). */
  issueClient(user: string, groups: readonly string[]): CertPair;
  /** Signs a certificate for a key the CA never held (what the CSR signer does); returns PEM. */
  signFor(spec: SignSpec): string;
}

/** What the CSR signer asks the CA to sign. */
export interface SignSpec {
  publicKey: KeyObject;
  commonName: string;
  organizations: readonly string[];
  usage: "server" | "client";
  dnsNames?: string[];
  ipAddresses?: string[];
  notBefore: Date;
  notAfter: Date;
}

function len(n: number): Buffer {
  if (n < 0x80) return Buffer.from([n]);
  const bytes: number[] = [];
  while (n > 0) {
    bytes.unshift(n & 0xff);
    n = Math.floor(n / 256);
  }
  return Buffer.from([0x80 | bytes.length, ...bytes]);
}
const tlv = (tag: number, ...parts: Buffer[]): Buffer => {
  const body = Buffer.concat(parts);
  return Buffer.concat([Buffer.from([tag]), len(body.length), body]);
};
const seq = (...parts: Buffer[]): Buffer => tlv(0x30, ...parts);
const set = (...parts: Buffer[]): Buffer => tlv(0x31, ...parts);
function oid(dotted: string): Buffer {
  const [a, b, ...rest] = dotted.split(".").map(Number);
  const out = [a! * 40 + b!];
  for (const n of rest) {
    const chunk: number[] = [n & 0x7f];
    let v = Math.floor(n / 128);
    while (v > 0) {
      chunk.unshift((v & 0x7f) | 0x80);
      v = Math.floor(v / 128);
    }
    out.push(...chunk);
  }
  return tlv(0x06, Buffer.from(out));
}
const utf8 = (s: string): Buffer => tlv(0x0c, Buffer.from(s, "utf8"));
const bool = (v: boolean): Buffer => tlv(0x01, Buffer.from([v ? 0xff : 0]));
const octets = (b: Buffer): Buffer => tlv(0x04, b);
const bits = (b: Buffer, unused = 0): Buffer => tlv(0x03, Buffer.from([unused]), b);
function integer(b: Buffer): Buffer {
  let i = 0;
  while (i < b.length - 1 && b[i] === 0 && (b[i + 1]! & 0x80) === 0) i++;
  const v = b.subarray(i);
  return tlv(0x02, v[0]! & 0x80 ? Buffer.concat([Buffer.from([0]), v]) : v);
}
function time(d: Date): Buffer {
  const p = (n: number): string => String(n).padStart(2, "0");
  const y = d.getUTCFullYear();
  const s = `${p(d.getUTCMonth() + 1)}${p(d.getUTCDate())}${p(d.getUTCHours())}${p(d.getUTCMinutes())}${p(d.getUTCSeconds())}Z`;
  return y < 2050 ? tlv(0x17, Buffer.from(`${p(y % 100)}${s}`)) : tlv(0x18, Buffer.from(`${y}${s}`));
}
const ECDSA_SHA256 = seq(oid("1.2.840.10045.4.3.2"));

function name(parts: { cn: string; o?: readonly string[] }): Buffer {
  const rdns = (parts.o ?? []).map((o) => set(seq(oid("2.5.4.10"), utf8(o))));
  rdns.push(set(seq(oid("2.5.4.3"), utf8(parts.cn))));
  return seq(...rdns);
}

function ext(id: string, critical: boolean, value: Buffer): Buffer {
  return seq(oid(id), ...(critical ? [bool(true)] : []), octets(value));
}

function keyUsage(flags: number[]): Buffer {
  let byte = 0;
  for (const f of flags) byte |= 0x80 >> f;
  let unused = 0;
  while (unused < 7 && !(byte & (1 << unused))) unused++;
  return bits(Buffer.from([byte]), unused);
}

function toPem(der: Buffer, label: string): string {
  const lines = der.toString("base64").match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${label}-----\n${lines.join("\n")}\n-----END ${label}-----\n`;
}

interface IssueSpec {
  subject: { cn: string; o?: readonly string[] };
  issuer: { cn: string; o?: readonly string[] };
  publicKey: KeyObject;
  signingKey: KeyObject;
  ca: boolean;
  usage?: "server" | "client";
  dns?: string[];
  ips?: string[];
  notBefore: Date;
  notAfter: Date;
}

function issueDer(s: IssueSpec): Buffer {
  const serial = randomBytes(16);
  serial[0] = (serial[0]! & 0x7f) | 0x01;
  const exts: Buffer[] = [ext("2.5.29.19", true, s.ca ? seq(bool(true)) : seq())];
  exts.push(ext("2.5.29.15", true, s.ca ? keyUsage([0, 5, 6]) : keyUsage([0, 2])));
  if (s.usage)
    exts.push(
      ext("2.5.29.37", false, seq(oid(s.usage === "server" ? "1.3.6.1.5.5.7.3.1" : "1.3.6.1.5.5.7.3.2"))),
    );
  if (s.dns?.length || s.ips?.length) {
    const names: Buffer[] = [];
    for (const d of s.dns ?? []) names.push(tlv(0x82, Buffer.from(d)));
    for (const ip of s.ips ?? []) {
      if (isIPv4(ip)) names.push(tlv(0x87, Buffer.from(ip.split(".").map(Number))));
      else if (ip === "::1") names.push(tlv(0x87, Buffer.from([...new Array(15).fill(0), 1])));
    }
    exts.push(ext("2.5.29.17", false, seq(...names)));
  }
  const spki = s.publicKey.export({ type: "spki", format: "der" });
  const tbs = seq(
    tlv(0xa0, integer(Buffer.from([2]))),
    integer(serial),
    ECDSA_SHA256,
    name(s.issuer),
    seq(time(s.notBefore), time(s.notAfter)),
    name(s.subject),
    spki,
    tlv(0xa3, seq(...exts)),
  );
  const sig = sign("sha256", tbs, s.signingKey);
  return seq(tbs, ECDSA_SHA256, bits(sig));
}

const newKey = (): { publicKey: KeyObject; privateKey: KeyObject } =>
  generateKeyPairSync("ec", { namedCurve: "prime256v1" });
const keyPem = (k: KeyObject): string => k.export({ type: "pkcs8", format: "pem" }).toString();

/** Generates a fresh CA and a serving certificate for 127.0.0.1/localhost (valid for `validDays`). */
export function createServerPki(validDays = 365): ServerPki {
  const notBefore = new Date(Date.now() - 3_600_000);
  const notAfter = new Date(Date.now() + validDays * 86_400_000);
  const caSubject = { cn: "kubenode-apiserver-ca" };
  const caKey = newKey();
  const caDer = issueDer({
    subject: caSubject,
    issuer: caSubject,
    publicKey: caKey.publicKey,
    signingKey: caKey.privateKey,
    ca: true,
    notBefore,
    notAfter,
  });
  const leaf = (
    subject: IssueSpec["subject"],
    usage: "server" | "client",
    dns?: string[],
    ips?: string[],
  ): CertPair => {
    const k = newKey();
    const der = issueDer({
      subject,
      issuer: caSubject,
      publicKey: k.publicKey,
      signingKey: caKey.privateKey,
      ca: false,
      usage,
      ...(dns ? { dns } : {}),
      ...(ips ? { ips } : {}),
      notBefore,
      notAfter,
    });
    return { certPem: toPem(der, "CERTIFICATE"), keyPem: keyPem(k.privateKey) };
  };
  return {
    ca: { certPem: toPem(caDer, "CERTIFICATE"), keyPem: keyPem(caKey.privateKey) },
    serving: leaf(
      { cn: "kube-apiserver" },
      "server",
      ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc"],
      ["127.0.0.1", "::1"],
    ),
    issueClient: (user, groups) => leaf({ cn: user, o: groups }, "client"),
    signFor: (spec) =>
      toPem(
        issueDer({
          subject: { cn: spec.commonName, o: spec.organizations },
          issuer: caSubject,
          publicKey: spec.publicKey,
          signingKey: caKey.privateKey,
          ca: false,
          usage: spec.usage,
          ...(spec.dnsNames?.length ? { dns: spec.dnsNames } : {}),
          ...(spec.ipAddresses?.length ? { ips: spec.ipAddresses } : {}),
          notBefore: spec.notBefore,
          notAfter: spec.notAfter,
        }),
        "CERTIFICATE",
      ),
  };
}

/** A certificate authority for tests of certificate handling (rotation, bootstrap, TLS). */
export interface TestCa {
  /** The CA certificate, PEM. */
  readonly certPem: string;
  /**
   * Signs a PEM `CERTIFICATE REQUEST` (its signature checked) for its subject and SANs, with the
   * validity given: a certificate expiring when a test's fake clock says. Returns PEM.
   */
  signCsr(csrPem: string, options: { notBefore: Date; notAfter: Date; usage?: "server" | "client" }): string;
}

/** A fresh ECDSA CA (valid for `validDays`) that signs certificate requests with any validity. */
export function createTestCa(validDays = 365): TestCa {
  const pki = createServerPki(validDays);
  return {
    certPem: pki.ca.certPem,
    signCsr(csrPem, options) {
      const csr = parseCsr(csrPem);
      return pki.signFor({
        publicKey: csr.publicKey,
        commonName: csr.commonName,
        organizations: csr.organizations,
        usage: options.usage ?? "client",
        dnsNames: csr.dnsNames,
        ipAddresses: csr.ipAddresses,
        notBefore: options.notBefore,
        notAfter: options.notAfter,
      });
    },
  };
}
