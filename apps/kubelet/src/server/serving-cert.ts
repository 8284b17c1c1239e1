// The kubelet's serving certificate: from tlsCertFile/tlsPrivateKeyFile, or self-signed in
// <certDir>/kubelet.crt|key like upstream (created once, reused on restart).
import { execFile } from "node:child_process";
import { mkdir, readFile, rename, rm } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Logger } from "@kubenode/kube";

const exec = promisify(execFile);

export interface ServingCert {
  certPem: string;
  keyPem: string;
  /** Where it came from (for logs). */
  certFile: string;
  selfSigned: boolean;
}

export interface ServingCertOptions {
  /** PEM certificate (chain) file; with `keyFile`. */
  certFile?: string;
  keyFile?: string;
  /** Where a self-signed pair lives when no files are given (upstream `<root-dir>/pki`). */
  certDir: string;
  /** Host name and IPs the self-signed certificate names. */
  hostname: string;
  ips: readonly string[];
  logger: Logger;
}

async function readPair(certFile: string, keyFile: string): Promise<{ certPem: string; keyPem: string }> {
  const [certPem, keyPem] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
  return { certPem, keyPem };
}

/**
 * Loads the serving certificate. With both files given they must be readable; with neither, a
 * self-signed certificate is made with `openssl` (upstream makes one with Go's crypto: clients
 * cannot verify it, which is why the API server does not verify kubelets by default).
 */
export async function loadServingCert(options: ServingCertOptions): Promise<ServingCert> {
  const { certFile, keyFile, certDir, logger } = options;
  if (certFile || keyFile) {
    if (!certFile || !keyFile) throw new Error("tlsCertFile and tlsPrivateKeyFile must be given together");
    try {
      return { ...(await readPair(certFile, keyFile)), certFile, selfSigned: false };
    } catch (err) {
      throw new Error(`cannot read the serving certificate: ${(err as Error).message}`, { cause: err });
    }
  }
  const crt = join(certDir, "kubelet.crt");
  const key = join(certDir, "kubelet.key");
  try {
    const pair = await readPair(crt, key);
    logger.warn(
      "Serving with a self-signed certificate: set tlsCertFile/tlsPrivateKeyFile for one clients can verify",
      {
        certFile: crt,
      },
    );
    return { ...pair, certFile: crt, selfSigned: true };
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
  await mkdir(certDir, { recursive: true, mode: 0o700 });
  const alt = [
    `DNS:${options.hostname}`,
    "DNS:localhost",
    ...new Set(["127.0.0.1", ...options.ips.filter((ip) => isIP(ip) !== 0)]),
  ].map((a) => (a.startsWith("DNS:") ? a : `IP:${a}`));
  const tmpCrt = `${crt}.tmp`;
  const tmpKey = `${key}.tmp`;
  try {
    // Upstream: CN "<host>@<unix seconds>", one year; EC P-256 here.
    await exec(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-days",
        "365",
        "-subj",
        `/CN=${options.hostname.replace(/[/=\\]/g, "_")}@${Math.floor(Date.now() / 1000)}`,
        "-addext",
        `subjectAltName=${alt.join(",")}`,
        "-keyout",
        tmpKey,
        "-out",
        tmpCrt,
      ],
      { timeout: 60_000 },
    );
    await rename(tmpKey, key);
    await rename(tmpCrt, crt);
  } catch (err) {
    await Promise.all([rm(tmpCrt, { force: true }), rm(tmpKey, { force: true })]);
    throw new Error(
      `cannot create a self-signed serving certificate with openssl: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  logger.warn(
    "No tlsCertFile/tlsPrivateKeyFile given: created a self-signed serving certificate; clients cannot verify it",
    { certFile: crt },
  );
  return { ...(await readPair(crt, key)), certFile: crt, selfSigned: true };
}
