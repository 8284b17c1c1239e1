import { authorize } from "../auth.js";
import { KUBELET_CLIENT_SIGNER } from "../certificates.js";
import { rfc3339 } from "../core.js";
import { parseCsr } from "../csr.js";
import type { Json, KubeObject } from "../types.js";
import { type Controller, type ControllerContext, ignoreMissing, R } from "./context.js";

const CLIENT_USAGES = [
  ["digital signature", "key encipherment", "client auth"],
  ["digital signature", "client auth"],
];
const sameSet = (a: string[], b: string[]): boolean => a.length === b.length && a.every((x) => b.includes(x));

/**
 * The csrapproving controller (pkg/controller/certificates/approver/sarapprove.go): approves
 * `kubernetes.io/kube-apiserver-client-kubelet` CSRs that are node client certificates
 * (O=[system:nodes], CN system:node:<name>, no SANs, client usages) when a SubjectAccessReview
 * lets the requester create `certificatesigningrequests/selfnodeclient` (renewal: requester is
 * the CN) or `certificatesigningrequests/nodeclient`. Everything else waits for a human
 * (`kubectl certificate approve`), as upstream.
 */
export function createCsrApprover(ctx: ControllerContext): Controller {
  const { core, storage, watch, trigger } = ctx;
  const csrDef = R("certificates.k8s.io", "certificatesigningrequests");

  const syncOne = (csr: KubeObject): void => {
    const s = csr.spec ?? {};
    if (s.signerName !== KUBELET_CLIENT_SIGNER) return;
    if ((csr.status?.conditions ?? []).some((c: Json) => c.type === "Approved" || c.type === "Denied"))
      return;
    let x509: ReturnType<typeof parseCsr>;
    try {
      x509 = parseCsr(Buffer.from(String(s.request ?? ""), "base64").toString("utf8"));
    } catch {
      return;
    }
    const isNodeClient =
      x509.organizations.length === 1 &&
      x509.organizations[0] === "system:nodes" &&
      x509.commonName.startsWith("system:node:") &&
      !x509.dnsNames.length &&
      !x509.ipAddresses.length &&
      !x509.emailAddresses.length &&
      !x509.uris.length &&
      CLIENT_USAGES.some((u) => sameSet(u, s.usages ?? []));
    if (!isNodeClient) return;
    const self = s.username === x509.commonName;
    const denied = authorize(
      {
        user: { username: s.username ?? "", groups: s.groups ?? [], ...(s.uid ? { uid: s.uid } : {}) },
        verb: "create",
        group: "certificates.k8s.io",
        resource: "certificatesigningrequests",
        subresource: self ? "selfnodeclient" : "nodeclient",
        namespace: "",
        name: "",
      },
      core,
    );
    if (denied !== undefined) return;
    const now = rfc3339(core.clock.now());
    ignoreMissing(() =>
      core.mutate(
        csrDef,
        "",
        csr.metadata.name,
        (x) => {
          x.status = {
            ...(x.status ?? {}),
            conditions: [
              ...(x.status?.conditions ?? []),
              {
                type: "Approved",
                status: "True",
                reason: "AutoApproved",
                message: self
                  ? "Auto approving self kubelet client certificate after SubjectAccessReview."
                  : "Auto approving kubelet client certificate after SubjectAccessReview.",
                lastUpdateTime: now,
                lastTransitionTime: now,
              },
            ],
          };
          return x;
        },
        "approval",
      ),
    );
  };

  const sync = (): void => {
    for (const csr of storage.list(csrDef.key)) syncOne(csr);
  };
  watch(csrDef, () => trigger("csrApprover"));
  return { name: "csrApprover", sync };
}
