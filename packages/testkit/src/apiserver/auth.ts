import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import type { ApiCore } from "./core.js";
import { rbacAllows } from "./rbac.js";
import { findResource } from "./resources.js";
import type { Json, KubeObject, UserInfo } from "./types.js";

/** What a request wants to do, as the authorizer sees it (authorizer.Attributes). */
export interface RequestAttributes {
  user: UserInfo;
  verb: string;
  group: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  /** The decoded request body for create/update (NodeRestriction admission looks at it). */
  body?: Json;
  /** A field selector restricting a list/watch (`metadata.name=x`). */
  fieldSelector?: string;
}

const b64url = (b: Buffer | string): string => Buffer.from(b).toString("base64url");

/** Issues and verifies bearer tokens: static identity tokens plus service account JWTs (HS256). */
export class TokenAuthority {
  private readonly key = randomBytes(32);
  private readonly static = new Map<string, UserInfo>();

  readonly issuer: string;

  constructor(issuer: string) {
    this.issuer = issuer;
  }

  /** Returns a bearer token for a static identity (used when TLS is off, and for the CLI). */
  staticToken(user: UserInfo): string {
    for (const [t, u] of this.static) if (u.username === user.username) return t;
    const token = randomBytes(24).toString("base64url");
    this.static.set(token, user);
    return token;
  }

  /** A TokenRequest result: a signed JWT with kubernetes.io claims like the upstream token issuer. */
  issueServiceAccountToken(claims: {
    namespace: string;
    serviceAccount: { name: string; uid: string };
    audiences: string[];
    expirationSeconds: number;
    nowMs: number;
    pod?: { name: string; uid: string };
    node?: { name: string; uid: string };
  }): { token: string; expirationTimestampMs: number } {
    const iat = Math.floor(claims.nowMs / 1000);
    const exp = iat + claims.expirationSeconds;
    const k8s: Json = { namespace: claims.namespace, serviceaccount: claims.serviceAccount };
    if (claims.pod) k8s.pod = claims.pod;
    if (claims.node) k8s.node = claims.node;
    const payload = {
      aud: claims.audiences,
      exp,
      iat,
      nbf: iat,
      iss: this.issuer,
      jti: randomBytes(8).toString("hex"),
      "kubernetes.io": k8s,
      sub: `system:serviceaccount:${claims.namespace}:${claims.serviceAccount.name}`,
    };
    const head = b64url(JSON.stringify({ alg: "HS256", kid: "kubenode", typ: "JWT" }));
    const body = b64url(JSON.stringify(payload));
    const sig = createHmac("sha256", this.key).update(`${head}.${body}`).digest("base64url");
    return { token: `${head}.${body}.${sig}`, expirationTimestampMs: exp * 1000 };
  }

  /** Authenticates a bearer token; `audiences` limits service account tokens (TokenReview spec.audiences). */
  authenticate(
    token: string,
    nowMs: number,
    audiences?: string[],
  ): { user: UserInfo; audiences: string[] } | undefined {
    const s = this.static.get(token);
    if (s) return { user: s, audiences: audiences ?? [] };
    const parts = token.split(".");
    if (parts.length !== 3) return undefined;
    const expect = createHmac("sha256", this.key).update(`${parts[0]}.${parts[1]}`).digest();
    const got = Buffer.from(parts[2]!, "base64url");
    if (got.length !== expect.length || !timingSafeEqual(got, expect)) return undefined;
    let claims: Json;
    try {
      claims = JSON.parse(Buffer.from(parts[1]!, "base64url").toString());
    } catch {
      return undefined;
    }
    if (typeof claims.exp !== "number" || claims.exp * 1000 < nowMs) return undefined;
    const aud: string[] = claims.aud ?? [];
    if (audiences?.length && !audiences.some((a) => aud.includes(a))) return undefined;
    const k = claims["kubernetes.io"] ?? {};
    const extra: Record<string, string[]> = {};
    if (k.pod) {
      extra["authentication.kubernetes.io/pod-name"] = [k.pod.name];
      extra["authentication.kubernetes.io/pod-uid"] = [k.pod.uid];
    }
    if (k.node) extra["authentication.kubernetes.io/node-name"] = [k.node.name];
    if (claims.jti) extra["authentication.kubernetes.io/credential-id"] = [`JTI=${claims.jti}`];
    return {
      user: {
        username: claims.sub,
        uid: k.serviceaccount?.uid,
        groups: ["system:serviceaccounts", `system:serviceaccounts:${k.namespace}`, "system:authenticated"],
        extra,
      },
      audiences: audiences?.length ? audiences.filter((a) => aud.includes(a)) : aud,
    };
  }
}

const BOOTSTRAP_TOKEN = /^([a-z0-9]{6})\.([a-z0-9]{16})$/;
const BOOTSTRAP_GROUP = /^system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]$/;

/**
 * The bootstrap token authenticator (plugin/pkg/auth/authenticator/token/bootstrap): a bearer
 * token `<id>.<secret>` matches the Secret `kube-system/bootstrap-token-<id>` of type
 * `bootstrap.kubernetes.io/token` whose `token-secret` is `<secret>`, with
 * `usage-bootstrap-authentication: "true"` and no `expiration` in the past. The user is
 * `system:bootstrap:<id>` in group `system:bootstrappers` plus the Secret's `auth-extra-groups`.
 */
export function authenticateBootstrapToken(
  token: string,
  core: ApiCore,
  nowMs: number,
): UserInfo | undefined {
  const m = BOOTSTRAP_TOKEN.exec(token);
  if (!m) return undefined;
  const [, id, secret] = m;
  const obj = core.find(findResource("", "v1", "secrets")!, "kube-system", `bootstrap-token-${id}`);
  if (obj?.type !== "bootstrap.kubernetes.io/token" || obj.metadata.deletionTimestamp) return undefined;
  const field = (k: string): string | undefined => {
    const v = obj.data?.[k];
    return typeof v === "string" ? Buffer.from(v, "base64").toString("utf8") : undefined;
  };
  const want = Buffer.from(field("token-secret") ?? "");
  const got = Buffer.from(secret!);
  if (want.length !== got.length || !timingSafeEqual(want, got)) return undefined;
  if (field("token-id") !== undefined && field("token-id") !== id) return undefined;
  if (field("usage-bootstrap-authentication") !== "true") return undefined;
  const expiration = field("expiration");
  if (expiration !== undefined && !(Date.parse(expiration) > nowMs)) return undefined;
  // bootstrapsecretutil.GetGroups: every extra group must be a system:bootstrappers:* name, else
  // the token does not authenticate at all; the set is returned sorted
  const extraText = field("auth-extra-groups") ?? "";
  const extra = extraText ? extraText.split(",") : [];
  if (extra.some((g) => !BOOTSTRAP_GROUP.test(g))) return undefined;
  const groups = [...new Set(["system:bootstrappers", ...extra])].sort();
  return { username: `system:bootstrap:${id}`, groups: [...groups, "system:authenticated"] };
}

/** Maps a client identity name to the user info its certificate/token carries. */
export function identityUser(identity: string, groups?: readonly string[]): UserInfo {
  if (groups) return { username: identity, groups: [...groups, "system:authenticated"] };
  if (identity === "admin") return { username: "admin", groups: ["system:masters", "system:authenticated"] };
  if (identity.startsWith("system:node:"))
    return { username: identity, groups: ["system:nodes", "system:authenticated"] };
  return { username: identity, groups: ["system:authenticated"] };
}

const READ = new Set(["get", "list", "watch"]);

/** Whether the pod references a configmap/secret/serviceaccount (the node authorizer's graph edges). */
function podReferences(pod: KubeObject, resource: string, name: string): boolean {
  const s = pod.spec ?? {};
  if (resource === "serviceaccounts") return (s.serviceAccountName ?? "default") === name;
  const key = resource === "secrets" ? "secret" : "configMap";
  const refName = (r: Json): string | undefined =>
    resource === "secrets" ? (r?.secretName ?? r?.name) : r?.name;
  if (resource === "secrets" && (s.imagePullSecrets ?? []).some((r: Json) => r?.name === name)) return true;
  for (const v of s.volumes ?? []) {
    if (refName(v?.[key]) === name) return true;
    for (const src of v?.projected?.sources ?? []) if (src?.[key]?.name === name) return true;
  }
  const refKey = resource === "secrets" ? "secretKeyRef" : "configMapKeyRef";
  const fromKey = resource === "secrets" ? "secretRef" : "configMapRef";
  for (const c of [...(s.containers ?? []), ...(s.initContainers ?? []), ...(s.ephemeralContainers ?? [])]) {
    for (const e of c?.env ?? []) if (e?.valueFrom?.[refKey]?.name === name) return true;
    for (const e of c?.envFrom ?? []) if (e?.[fromKey]?.name === name) return true;
  }
  return false;
}

function nameFromSelector(sel?: string): string | undefined {
  const m = sel?.match(/^metadata\.name==?([^,]+)$/);
  return m?.[1];
}

/**
 * Authorizes a request. Returns undefined when allowed, else the reason text. `system:masters`
 * may do anything; node identities get the node authorizer and the system:node rules (what they
 * may write is then narrowed by NodeRestriction admission, see admission.ts);
 * `system:kube-proxy` gets the system:node-proxier role; service accounts may read; every
 * authenticated user may create self reviews; anything else is left to the stored RBAC Roles and
 * Bindings.
 */
export function authorize(a: RequestAttributes, core: ApiCore): string | undefined {
  const denied = builtinAuthorize(a, core);
  // then RBAC over the stored Roles and Bindings, as the union authorizer asks RBAC after Node
  if (denied !== undefined && rbacAllows(a, core) !== undefined) return undefined;
  return denied;
}

function builtinAuthorize(a: RequestAttributes, core: ApiCore): string | undefined {
  const groups = a.user.groups;
  if (groups.includes("system:masters")) return undefined;
  if (
    a.resource === "selfsubjectaccessreviews" ||
    a.resource === "selfsubjectreviews" ||
    a.resource === "selfsubjectrulesreviews"
  )
    return undefined;
  if (groups.includes("system:nodes") && a.user.username.startsWith("system:node:")) {
    return authorizeNode(a, a.user.username.slice("system:node:".length), core);
  }
  if (a.user.username === "system:kube-proxy") {
    // the system:node-proxier ClusterRole: watch Services/EndpointSlices/Nodes, write Events
    if (
      READ.has(a.verb) &&
      ["services", "endpointslices", "endpoints", "nodes"].includes(a.resource) &&
      !a.subresource
    )
      return undefined;
    if (a.resource === "events" && ["create", "patch", "update"].includes(a.verb)) return undefined;
    return "";
  }
  if (groups.includes("system:bootstrappers")) {
    // kubeadm's bindings for bootstrap tokens: system:node-bootstrapper and the nodeclient approval role
    if (
      a.resource === "certificatesigningrequests" &&
      !a.subresource &&
      (READ.has(a.verb) || a.verb === "create")
    )
      return undefined;
    if (a.resource === "certificatesigningrequests" && a.subresource === "nodeclient" && a.verb === "create")
      return undefined;
    return "";
  }
  if (groups.includes("system:serviceaccounts")) {
    return READ.has(a.verb) ? undefined : "";
  }
  return "";
}

function authorizeNode(a: RequestAttributes, node: string, core: ApiCore): string | undefined {
  const r = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const podsDef = findResource("", "v1", "pods")!;
  switch (r) {
    // the system:node rules: which object a node may write is NodeRestriction admission's business
    case "nodes":
    case "nodes/status":
      return READ.has(a.verb) || ["create", "update", "patch", "delete"].includes(a.verb) ? undefined : "";
    case "pods":
      return READ.has(a.verb) || a.verb === "create" || a.verb === "delete" ? undefined : "";
    case "pods/status":
      return ["get", "update", "patch"].includes(a.verb) ? undefined : "";
    case "pods/eviction":
      return a.verb === "create" ? undefined : "";
    case "services":
    case "endpointslices":
    case "endpoints":
      return READ.has(a.verb) ? undefined : "";
    case "events":
      return ["create", "update", "patch", "get", "list", "watch"].includes(a.verb) ? undefined : "";
    case "leases":
      return ["create", "delete", "get", "patch", "update"].includes(a.verb) ? undefined : "";
    case "configmaps":
    case "secrets":
    case "serviceaccounts":
    case "serviceaccounts/token": {
      const name = a.name || nameFromSelector(a.fieldSelector);
      const verbOk = r === "serviceaccounts/token" ? a.verb === "create" : READ.has(a.verb);
      if (!verbOk || !name) return "";
      const base = r === "serviceaccounts/token" ? "serviceaccounts" : a.resource;
      const pods = core.storage.list(podsDef.key, a.namespace);
      if (pods.some((p) => p.spec?.nodeName === node && podReferences(p, base, name))) return undefined;
      return `no relationship found between node '${node}' and this object`;
    }
    case "certificatesigningrequests":
      return READ.has(a.verb) || a.verb === "create" ? undefined : "";
    // kubeadm binds system:nodes to the selfnodeclient role (client certificate renewal)
    case "certificatesigningrequests/selfnodeclient":
      return a.verb === "create" ? undefined : "";
    case "tokenreviews":
    case "subjectaccessreviews":
      return a.verb === "create" ? undefined : "";
    default:
      return "";
  }
}

/** Renders the Forbidden message kube-apiserver sends for a denied request. */
export function forbiddenMessage(a: RequestAttributes, reason: string): string {
  const r = a.subresource ? `${a.resource}/${a.subresource}` : a.resource;
  const target = a.name
    ? `${a.resource}${a.group ? `.${a.group}` : ""} "${a.name}"`
    : `${a.resource}${a.group ? `.${a.group}` : ""}`;
  const scope = a.namespace ? `in the namespace "${a.namespace}"` : "at the cluster scope";
  return `${target} is forbidden: User "${a.user.username}" cannot ${a.verb} resource "${r}" in API group "${a.group}" ${scope}${reason ? `: ${reason}` : ""}`;
}
