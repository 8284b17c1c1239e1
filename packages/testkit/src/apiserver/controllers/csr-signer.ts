import { CLIENT_SIGNER, KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER } from "../certificates.js";
import type { SignSpec } from "../certs.js";
import { rfc3339 } from "../core.js";
import { parseCsr } from "../csr.js";
import type { Json, KubeObject } from "../types.js";
import { type Controller, type ControllerContext, ignoreMissing, R } from "./context.js";

/** kube-controller-manager's default --cluster-signing-duration (8760h). */
const MAX_TTL_SECONDS = 8760 * 3600;
const sameSet = (a: string[], b: string[]): boolean => a.length === b.length && a.every((x) => b.includes(x));

/** Why a CSR cannot be signed by its kubernetes.io signer (authority/policies + signer validation), if so. */
function invalidFor(signer: string, x509: ReturnType<typeof parseCsr>, usages: string[]): string | undefined {
  const nodeShaped =
    x509.organizations.length === 1 &&
    x509.organizations[0] === "system:nodes" &&
    x509.commonName.startsWith("system:node:");
  if (signer === KUBELET_SERVING_SIGNER) {
    if (!nodeShaped)
      return "subject organization is not system:nodes or common name does not begin with system:node:";
    if (!x509.dnsNames.length && !x509.ipAddresses.length) return "DNS or IP subjectAltName is required";
    if (x509.emailAddresses.length || x509.uris.length)
      return "email and URI subjectAltNames are not allowed";
    const ok = [
      ["digital signature", "key encipherment", "server auth"],
      ["digital signature", "server auth"],
    ].some((u) => sameSet(u, usages));
    return ok ? undefined : `usages did not match [digital signature key encipherment server auth]`;
  }
  if (signer === KUBELET_CLIENT_SIGNER) {
    if (!nodeShaped)
      return "subject organization is not system:nodes or common name does not begin with system:node:";
    if (x509.dnsNames.length || x509.ipAddresses.length || x509.emailAddresses.length || x509.uris.length)
      return "subjectAltNames are not allowed";
  }
  if (!usages.includes("client auth") && signer !== KUBELET_SERVING_SIGNER)
    return "client auth usage is required";
  return undefined;
}

/**
 * The csrsigning controller (pkg/controller/certificates/signer): signs approved CSRs of the
 * `kubernetes.io/kube-apiserver-client-kubelet`, `kubernetes.io/kubelet-serving` and
 * `kubernetes.io/kube-apiserver-client` signers with the simulator's CA (the one clients
 * already trust, so an issued kubelet client certificate authenticates at once). TTL is
 * expirationSeconds clamped to [10 min, 8760 h], notBefore 5 minutes back; a CSR its signer
 * refuses gets condition Failed, reason SignerValidationFailure.
 */
export function createCsrSigner(ctx: ControllerContext, signFor: (spec: SignSpec) => string): Controller {
  const { core, storage, watch, trigger } = ctx;
  const csrDef = R("certificates.k8s.io", "certificatesigningrequests");

  const syncOne = (csr: KubeObject): void => {
    const s = csr.spec ?? {};
    if (![KUBELET_CLIENT_SIGNER, KUBELET_SERVING_SIGNER, CLIENT_SIGNER].includes(s.signerName)) return;
    const conds: Json[] = csr.status?.conditions ?? [];
    const has = (t: string): boolean => conds.some((c) => c.type === t && c.status === "True");
    if (!has("Approved") || has("Denied") || has("Failed") || csr.status?.certificate) return;
    let x509: ReturnType<typeof parseCsr>;
    try {
      x509 = parseCsr(Buffer.from(String(s.request ?? ""), "base64").toString("utf8"));
    } catch {
      return;
    }
    const nowMs = core.clock.now();
    const now = rfc3339(nowMs);
    const why = invalidFor(s.signerName, x509, s.usages ?? []);
    let status: Json;
    if (why) {
      status = {
        ...(csr.status ?? {}),
        conditions: [
          ...conds,
          {
            type: "Failed",
            status: "True",
            reason: "SignerValidationFailure",
            message: why,
            lastUpdateTime: now,
            lastTransitionTime: now,
          },
        ],
      };
    } else {
      const ttl = Math.min(Math.max(s.expirationSeconds ?? MAX_TTL_SECONDS, 600), MAX_TTL_SECONDS);
      const notBefore = nowMs - 5 * 60_000;
      const notAfter = ttl < 8 * 3600 ? nowMs + ttl * 1000 : notBefore + ttl * 1000;
      const pem = signFor({
        publicKey: x509.publicKey,
        commonName: x509.commonName,
        organizations: x509.organizations,
        usage: s.signerName === KUBELET_SERVING_SIGNER ? "server" : "client",
        dnsNames: x509.dnsNames,
        ipAddresses: x509.ipAddresses,
        notBefore: new Date(notBefore),
        notAfter: new Date(notAfter),
      });
      status = { ...(csr.status ?? {}), certificate: Buffer.from(pem).toString("base64") };
    }
    ignoreMissing(() => core.mutate(csrDef, "", csr.metadata.name, (x) => ({ ...x, status }), "status"));
  };

  const sync = (): void => {
    for (const csr of storage.list(csrDef.key)) syncOne(csr);
  };
  watch(csrDef, () => trigger("csrSigner"));
  return { name: "csrSigner", sync };
}
