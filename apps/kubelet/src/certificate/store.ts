// The kubelet's certificate files, laid out as upstream's certificate FileStore
// (k8s.io/client-go/util/certificate): every issued pair is written once to
// `<certDir>/<pairName>-<YYYY-MM-DD-HH-MM-SS>.pem` (certificate then key, one file), and
// `<pairName>-current.pem` is a symlink to the pair in use, swapped atomically by a rename.
import { X509Certificate } from "node:crypto";
import { lstat, mkdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { basename, join } from "node:path";

/** A certificate and its key as stored, with what rotation needs to know of it. */
export interface StoredPair {
  /** The certificate chain, PEM (leaf first). */
  certPem: string;
  /** The private key, PEM. */
  keyPem: string;
  notBeforeMs: number;
  notAfterMs: number;
  /** The leaf's subject as Node.js prints it (`O=system:nodes\nCN=system:node:n1`). */
  subject: string;
}

/** One pair name's files in a directory. */
export interface CertificateStore {
  /** `<certDir>/<pairName>-current.pem`: what a kubeconfig points at. */
  readonly currentPath: string;
  /** The current pair, or undefined when there is none yet. Throws when the file is unreadable garbage. */
  current(): Promise<StoredPair | undefined>;
  /** Writes a newly issued pair and makes it current; resolves with the parsed pair. */
  update(certPem: string, keyPem: string, nowMs: number): Promise<StoredPair>;
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----\n?/g;

/** Splits a PEM bundle into its certificates and its (first) private key. */
export function parsePair(pem: string, where: string): StoredPair {
  const blocks = [...pem.matchAll(PEM_BLOCK)];
  const certs = blocks.filter((b) => b[1] === "CERTIFICATE").map((b) => b[0].trimEnd());
  const key = blocks.find((b) => /PRIVATE KEY$/.test(b[1] ?? ""))?.[0].trimEnd();
  if (certs.length === 0) throw new Error(`${where}: no CERTIFICATE block`);
  if (!key) throw new Error(`${where}: no PRIVATE KEY block`);
  let leaf: X509Certificate;
  try {
    leaf = new X509Certificate(certs[0] ?? "");
  } catch (err) {
    throw new Error(`${where}: the certificate does not parse: ${(err as Error).message}`, { cause: err });
  }
  return {
    certPem: `${certs.join("\n")}\n`,
    keyPem: `${key}\n`,
    notBeforeMs: Date.parse(leaf.validFrom),
    notAfterMs: Date.parse(leaf.validTo),
    subject: leaf.subject,
  };
}

const pad = (n: number) => String(n).padStart(2, "0");

/** Go's "2006-01-02-15-04-05" in UTC, the timestamp in upstream's file names. */
function stamp(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}-${pad(d.getUTCHours())}-${pad(d.getUTCMinutes())}-${pad(d.getUTCSeconds())}`;
}

/** The store of `pairName` (e.g. `kubelet-client`) in `certDir`. */
export function createCertificateStore(certDir: string, pairName: string): CertificateStore {
  const currentPath = join(certDir, `${pairName}-current.pem`);
  return {
    currentPath,
    async current() {
      let pem: string;
      try {
        pem = await readFile(currentPath, "utf8");
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
        throw err;
      }
      return parsePair(pem, currentPath);
    },
    async update(certPem, keyPem, nowMs) {
      const pair = parsePair(`${certPem.trimEnd()}\n${keyPem.trimEnd()}\n`, "issued certificate");
      await mkdir(certDir, { recursive: true, mode: 0o700 });
      let file = join(certDir, `${pairName}-${stamp(nowMs)}.pem`);
      // Two pairs in one second (a retry) get distinct files rather than overwrite the one in use.
      for (let i = 1; await exists(file); i++) file = join(certDir, `${pairName}-${stamp(nowMs)}-${i}.pem`);
      await writeFile(file, `${pair.certPem}${pair.keyPem}`, { mode: 0o600 });
      const updating = join(certDir, `${pairName}-updated.pem`);
      await rm(updating, { force: true });
      // Relative target: the directory can move (a container's volume) without breaking the link.
      await symlink(basename(file), updating);
      await rename(updating, currentPath);
      return pair;
    },
  };
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
