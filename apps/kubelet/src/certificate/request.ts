// Asking the API server for a certificate: a certificates.k8s.io/v1 CertificateSigningRequest,
// then waiting until it is approved and issued (client-go's util/certificate/csr RequestCertificate
// and WaitForCertificate).
import { createHash, createPublicKey, type KeyObject } from "node:crypto";
import { type Clock, type KubeClient, KubeError } from "@kubenode/kube";

const CSR_PATH = "/apis/certificates.k8s.io/v1/certificatesigningrequests";

/** Signer of kubelet client certificates (O=system:nodes, CN=system:node:<name>). */
export const KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet";
/** Signer of kubelet serving certificates. */
export const KUBELET_SERVING_SIGNER = "kubernetes.io/kubelet-serving";

/**
 * Usages of a kubelet client certificate request, as upstream's kubelet sends them: digital
 * signature and client auth, plus key encipherment for RSA keys only (what the csrapproving
 * controller accepts for node client certificates).
 */
export function clientUsages(key: KeyObject): string[] {
  return key.asymmetricKeyType === "rsa"
    ? ["digital signature", "key encipherment", "client auth"]
    : ["digital signature", "client auth"];
}

/**
 * `node-csr-<digest>`: upstream's bootstrap names the CSR after a SHA-512/256 digest of the public
 * key, CN, O and usages (each base64url-encoded, `|`-terminated), so a kubelet restarted with the
 * same key finds its earlier request instead of filing a second one.
 */
export function bootstrapCsrName(
  key: KeyObject,
  commonName: string,
  organizations: readonly string[],
  usages: readonly string[],
): string {
  const hash = createHash("sha512-256");
  const write = (data: Buffer) => {
    hash.update(data.toString("base64url"));
    hash.update("|");
  };
  write(createPublicKey(key).export({ type: "spki", format: "der" }));
  write(Buffer.from(commonName));
  for (const o of organizations) write(Buffer.from(o));
  for (const u of usages) write(Buffer.from(u));
  return `node-csr-${hash.digest("base64url")}`;
}

interface Csr {
  metadata: { name: string };
  spec: { request: string; signerName: string };
  status?: {
    certificate?: string;
    conditions?: { type: string; status?: string; reason?: string; message?: string }[];
  };
}

/** What {@link requestCertificate} sends. */
export interface CertificateRequest {
  csrPem: string;
  signerName: string;
  usages: readonly string[];
  /** A fixed name (bootstrap), or undefined for a server-generated `csr-xxxxx` (rotation). */
  name?: string;
  /** spec.expirationSeconds; undefined leaves the signer's default. */
  expirationSeconds?: number;
  /** Give up after this long (upstream's bootstrap waits an hour). */
  timeoutMs: number;
  /** Time between checks of the CSR's status. Default 1 000 ms. */
  pollIntervalMs?: number;
  clock: Clock;
  signal?: AbortSignal;
}

/**
 * Files the CSR (reusing an existing one of the same name when it carries the same request) and
 * resolves with the issued certificate chain (PEM) once the CSR is Approved and has a certificate.
 * Rejects when it is Denied or Failed (with the reason and message) or on timeout.
 */
export async function requestCertificate(client: KubeClient, req: CertificateRequest): Promise<string> {
  const request = Buffer.from(req.csrPem).toString("base64");
  const body = {
    apiVersion: "certificates.k8s.io/v1",
    kind: "CertificateSigningRequest",
    metadata: req.name ? { name: req.name } : { generateName: "csr-" },
    spec: {
      request,
      signerName: req.signerName,
      usages: req.usages,
      expirationSeconds: req.expirationSeconds,
    },
  };
  let csr: Csr;
  try {
    csr = await client.request<Csr>({ method: "POST", path: CSR_PATH, body, ...signalOf(req) });
  } catch (err) {
    if (!(err instanceof KubeError && err.code === "AlreadyExists" && req.name)) throw err;
    csr = await client.request<Csr>({ method: "GET", path: `${CSR_PATH}/${req.name}`, ...signalOf(req) });
    if (csr.spec.request !== request || csr.spec.signerName !== req.signerName)
      throw new Error(
        `certificate signing request ${req.name} already exists for a different key or signer; delete it to retry`,
      );
  }
  const name = csr.metadata.name;
  const deadline = req.clock.now() + req.timeoutMs;
  for (;;) {
    const conditions = csr.status?.conditions ?? [];
    const denied = conditions.find((c) => c.type === "Denied" && c.status !== "False");
    if (denied)
      throw new Error(
        `certificate signing request ${name} is denied, reason: ${denied.reason ?? ""}, message: ${denied.message ?? ""}`,
      );
    const failed = conditions.find((c) => c.type === "Failed" && c.status !== "False");
    if (failed)
      throw new Error(
        `certificate signing request ${name} failed, reason: ${failed.reason ?? ""}, message: ${failed.message ?? ""}`,
      );
    const approved = conditions.some((c) => c.type === "Approved" && c.status !== "False");
    if (approved && csr.status?.certificate)
      return Buffer.from(csr.status.certificate, "base64").toString("utf8");
    if (req.clock.now() >= deadline)
      throw new Error(
        `timed out after ${Math.round(req.timeoutMs / 1000)} s waiting for certificate signing request ${name} to be ${approved ? "issued" : "approved"}`,
      );
    await req.clock.sleep(req.pollIntervalMs ?? 1_000, req.signal);
    csr = await client.request<Csr>({ method: "GET", path: `${CSR_PATH}/${name}`, ...signalOf(req) });
  }
}

const signalOf = (req: CertificateRequest) => (req.signal ? { signal: req.signal } : {});
