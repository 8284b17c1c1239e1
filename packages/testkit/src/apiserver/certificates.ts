import { parseCsr } from "./csr.js";
import type { ResourceDef } from "./resources.js";
import { type FieldError, fieldInvalid, fieldNotSupported, fieldRequired } from "./status.js";
import type { Json, KubeObject, UserInfo } from "./types.js";

/**
 * API semantics of certificates.k8s.io/v1 CertificateSigningRequests (pkg/registry/certificates):
 * the requester's identity is recorded in the spec on create, the spec never changes afterwards,
 * conditions Approved/Denied change only through `/approval`, the certificate only through
 * `/status`.
 */

export const KUBELET_CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client-kubelet";
export const KUBELET_SERVING_SIGNER = "kubernetes.io/kubelet-serving";
export const CLIENT_SIGNER = "kubernetes.io/kube-apiserver-client";

const USAGES = [
  "signing",
  "digital signature",
  "content commitment",
  "key encipherment",
  "key agreement",
  "data encipherment",
  "cert sign",
  "crl sign",
  "encipher only",
  "decipher only",
  "any",
  "server auth",
  "client auth",
  "code signing",
  "email protection",
  "s/mime",
  "ipsec end system",
  "ipsec tunnel",
  "ipsec user",
  "timestamping",
  "ocsp signing",
  "microsoft sgc",
  "netscape sgc",
];

/** PrepareForCreate: the user info comes from the request, the status starts empty. */
export function prepareCsrForCreate(obj: KubeObject, user: UserInfo | undefined): void {
  obj.spec ??= {};
  if (user) {
    obj.spec.username = user.username;
    if (user.uid) obj.spec.uid = user.uid;
    else delete obj.spec.uid;
    obj.spec.groups = user.groups;
    if (user.extra && Object.keys(user.extra).length) obj.spec.extra = user.extra;
    else delete obj.spec.extra;
  }
  obj.status = {};
}

/** ValidateCertificateSigningRequestCreate, a useful subset. */
export function validateCsr(_def: ResourceDef, obj: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  const s = obj.spec ?? {};
  if (!s.request) errs.push(fieldRequired("spec.request", ""));
  else {
    try {
      parseCsr(Buffer.from(String(s.request), "base64").toString("utf8"));
    } catch (e) {
      errs.push(fieldInvalid("spec.request", "", (e as Error).message));
    }
  }
  if (!s.signerName) errs.push(fieldRequired("spec.signerName", ""));
  else if (!/^[a-z0-9.-]+\/[a-zA-Z0-9.*_-]+$/.test(s.signerName))
    errs.push(
      fieldInvalid(
        "spec.signerName",
        s.signerName,
        "must be a fully qualified domain and path of the form 'example.com/signer-name'",
      ),
    );
  if (!Array.isArray(s.usages) || !s.usages.length) errs.push(fieldRequired("spec.usages", ""));
  else
    s.usages.forEach((u: Json, i: number) => {
      if (!USAGES.includes(u)) errs.push(fieldNotSupported(`spec.usages[${i}]`, u, USAGES));
    });
  if (
    s.expirationSeconds !== undefined &&
    (!Number.isInteger(s.expirationSeconds) || s.expirationSeconds < 600)
  )
    errs.push(
      fieldInvalid(
        "spec.expirationSeconds",
        s.expirationSeconds,
        "may not specify a duration less than 600 seconds (10 minutes)",
      ),
    );
  const conds: Json[] = obj.status?.conditions ?? [];
  const has = (t: string): boolean => conds.some((c) => c.type === t && c.status === "True");
  if (has("Approved") && has("Denied"))
    errs.push(
      fieldInvalid("status.conditions", "Approved", "Approved and Denied conditions are mutually exclusive"),
    );
  return errs;
}

/**
 * The object an update of a CSR stores: the spec is immutable; the main resource changes only
 * metadata, `/approval` only the conditions, `/status` the status.
 */
export function csrUpdate(
  cur: KubeObject,
  next: KubeObject,
  subresource: string | undefined,
  nowIso: string,
): KubeObject {
  const out: KubeObject = { ...next, spec: cur.spec };
  if (subresource === "approval") {
    const conditions = (next.status?.conditions ?? []).map((c: Json) => ({
      ...c,
      lastUpdateTime: c.lastUpdateTime ?? nowIso,
      lastTransitionTime: c.lastTransitionTime ?? nowIso,
    }));
    out.status = { ...(cur.status ?? {}), conditions };
    if (!conditions.length) delete out.status.conditions;
  } else if (subresource !== "status") out.status = cur.status;
  return out;
}
