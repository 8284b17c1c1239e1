// Authentication and authorization of the kubelet API (upstream pkg/kubelet/server/auth.go and the
// kubelet's BuildAuth): x509 client certificates, bearer tokens checked with TokenReview, optional
// anonymous access; authorization by SubjectAccessReview on `nodes/<subresource>` of this node.
import { createHash } from "node:crypto";
import type { IncomingMessage } from "node:http";
import type { TLSSocket } from "node:tls";
import { type Clock, type KubeClient, KubeError } from "@kubenode/kube";

/** Who made a request (authentication's user.Info). */
export interface UserInfo {
  username: string;
  uid?: string;
  groups: string[];
  extra?: Record<string, string[]>;
}

/** Authentication settings (KubeletConfiguration `authentication`). */
export interface AuthenticationOptions {
  /** Client certificates signed by this CA bundle (PEM) authenticate as CN / O (x509.clientCAFile). */
  clientCAPem?: string;
  /** Bearer tokens are checked with TokenReview (webhook.enabled, default true; needs an API client). */
  webhook?: boolean;
  /** How long TokenReview answers are kept (webhook.cacheTTL, default 2 min). */
  webhookCacheTtlMs?: number;
  /** Requests without credentials run as system:anonymous (anonymous.enabled, default false). */
  anonymous?: boolean;
}

/** Authorization settings (KubeletConfiguration `authorization`). */
export interface AuthorizationOptions {
  /** `Webhook` (SubjectAccessReview, the default) or `AlwaysAllow`. */
  mode?: "Webhook" | "AlwaysAllow";
  /** How long allowed answers are kept (webhook.cacheAuthorizedTTL, default 5 min). */
  cacheAuthorizedTtlMs?: number;
  /** How long denied answers are kept (webhook.cacheUnauthorizedTTL, default 30 s). */
  cacheUnauthorizedTtlMs?: number;
}

/** What an authenticated request asks for, as SubjectAccessReview resource attributes. */
export interface NodeRequestAttributes {
  verb: string;
  /** Tried in order; any allowed one authorizes the request (KubeletFineGrainedAuthz). */
  subresources: string[];
}

const VERBS: Record<string, string> = {
  POST: "create",
  GET: "get",
  PUT: "update",
  PATCH: "patch",
  DELETE: "delete",
};

/** Whether `path` is `prefix` or below it (upstream isSubpath). */
function isSubpath(path: string, prefix: string): boolean {
  const p = prefix.endsWith("/") ? prefix.slice(0, -1) : prefix;
  return path === p || (path.startsWith(p) && path[p.length] === "/");
}

/**
 * Maps a request to the `nodes` subresources that may authorize it, as upstream's
 * nodeAuthorizerAttributesGetter with KubeletFineGrainedAuthz (default on since 1.33): /pods and
 * /runningpods -> [pods, proxy], /healthz -> [healthz, proxy], /configz -> [configz, proxy];
 * /stats -> [stats], /metrics -> [metrics], /logs -> [log], /checkpoint -> [checkpoint];
 * everything else (containerLogs, exec, attach, portForward, run) -> [proxy].
 */
export function nodeRequestAttributes(method: string, path: string): NodeRequestAttributes {
  const subresources: string[] = [];
  if (isSubpath(path, "/pods")) subresources.push("pods");
  else if (isSubpath(path, "/healthz")) subresources.push("healthz");
  else if (isSubpath(path, "/configz")) subresources.push("configz");
  else if (isSubpath(path, "/runningpods/")) subresources.push("pods");
  if (isSubpath(path, "/stats")) subresources.push("stats");
  else if (isSubpath(path, "/metrics")) subresources.push("metrics");
  else if (isSubpath(path, "/logs/")) subresources.push("log");
  else if (isSubpath(path, "/checkpoint")) subresources.push("checkpoint");
  else subresources.push("proxy");
  return { verb: VERBS[method] ?? "", subresources };
}

/** Upstream's 403 body: `Forbidden (user=alice, verb=get, resource=nodes, subresource(s)=[pods proxy])`. */
export function forbiddenMessage(user: UserInfo, attrs: NodeRequestAttributes): string {
  return `Forbidden (user=${user.username}, verb=${attrs.verb}, resource=nodes, subresource(s)=[${attrs.subresources.join(" ")}])`;
}

/** Authenticates and authorizes requests to the kubelet API. */
export interface KubeletAuth {
  /** The request's user, or undefined when it carries no (valid) credentials: answer 401. */
  authenticate(req: IncomingMessage): Promise<UserInfo | undefined>;
  /** Whether `user` may do `attrs` on this node. Throws when the API server cannot be asked (500). */
  authorize(user: UserInfo, attrs: NodeRequestAttributes): Promise<boolean>;
}

export interface KubeletAuthOptions {
  nodeName: string;
  /** The node's API client for TokenReview and SubjectAccessReview; absent = webhooks unavailable. */
  client?: KubeClient;
  authentication?: AuthenticationOptions;
  authorization?: AuthorizationOptions;
  clock: Clock;
}

interface Cached<T> {
  value: T;
  expiresAtMs: number;
}

/** A small TTL cache that forgets the oldest entries beyond `max`. */
function ttlCache<T>(clock: Clock, max = 4096) {
  const entries = new Map<string, Cached<T>>();
  return {
    get(key: string): T | undefined {
      const e = entries.get(key);
      if (!e) return undefined;
      if (e.expiresAtMs <= clock.now()) {
        entries.delete(key);
        return undefined;
      }
      return e.value;
    },
    set(key: string, value: T, ttlMs: number): void {
      if (ttlMs <= 0) return;
      entries.delete(key);
      entries.set(key, { value, expiresAtMs: clock.now() + ttlMs });
      if (entries.size > max) entries.delete(entries.keys().next().value as string);
    },
  };
}

function firstValue(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}

/** The user of a verified client certificate: CN is the name, each O a group (upstream x509 CommonNameUserConversion). */
function certificateUser(socket: TLSSocket): UserInfo | undefined {
  if (!socket.authorized) return undefined;
  const cert = socket.getPeerCertificate();
  if (!cert?.subject) return undefined;
  const cn = firstValue(cert.subject.CN);
  if (!cn) return undefined;
  const o = cert.subject.O;
  const groups = o === undefined ? [] : Array.isArray(o) ? o : [o];
  return { username: cn, groups: [...groups, "system:authenticated"] };
}

interface TokenReviewStatus {
  authenticated?: boolean;
  user?: { username?: string; uid?: string; groups?: string[]; extra?: Record<string, string[]> };
  error?: string;
}

/** Creates the kubelet's authenticator and authorizer. */
export function createKubeletAuth(options: KubeletAuthOptions): KubeletAuth {
  const { client, clock, nodeName } = options;
  const authn = options.authentication ?? {};
  const authz = options.authorization ?? {};
  const webhook = authn.webhook ?? true;
  const tokenTtl = authn.webhookCacheTtlMs ?? 120_000;
  const mode = authz.mode ?? "Webhook";
  const allowedTtl = authz.cacheAuthorizedTtlMs ?? 300_000;
  const deniedTtl = authz.cacheUnauthorizedTtlMs ?? 30_000;
  const tokens = ttlCache<UserInfo | null>(clock);
  const decisions = ttlCache<boolean>(clock);

  async function reviewToken(token: string): Promise<UserInfo | undefined> {
    // Cached by digest, not by the token itself (as upstream's cached token authenticator).
    const key = createHash("sha256").update(token).digest("base64");
    const cached = tokens.get(key);
    if (cached !== undefined) return cached ?? undefined;
    const review = await client!.request<{ status?: TokenReviewStatus }>({
      method: "POST",
      path: "/apis/authentication.k8s.io/v1/tokenreviews",
      body: {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenReview",
        spec: { token },
      },
    });
    const s = review.status ?? {};
    const user: UserInfo | null =
      s.authenticated && s.user?.username
        ? {
            username: s.user.username,
            groups: s.user.groups ?? [],
            ...(s.user.uid ? { uid: s.user.uid } : {}),
            ...(s.user.extra ? { extra: s.user.extra } : {}),
          }
        : null;
    // Upstream's token cache keeps successes and failures for cacheTTL; errors are not cached.
    tokens.set(key, user, tokenTtl);
    return user ?? undefined;
  }

  return {
    async authenticate(req) {
      const socket = req.socket as TLSSocket;
      if (authn.clientCAPem && typeof socket.getPeerCertificate === "function") {
        const user = certificateUser(socket);
        if (user) return user;
      }
      const header = req.headers.authorization;
      const m = header ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null;
      if (m && webhook && client) {
        const user = await reviewToken(m[1]!);
        if (user) return user;
      }
      // Upstream's union authenticator ends with the anonymous one when enabled: it takes every
      // request the others did not authenticate.
      if (authn.anonymous) return { username: "system:anonymous", groups: ["system:unauthenticated"] };
      return undefined;
    },
    async authorize(user, attrs) {
      if (mode === "AlwaysAllow") return true;
      // Without an API server (standalone) there is nobody to ask: Webhook mode denies.
      if (!client) return false;
      for (const subresource of attrs.subresources) {
        const spec = {
          user: user.username,
          groups: user.groups,
          ...(user.uid ? { uid: user.uid } : {}),
          ...(user.extra ? { extra: user.extra } : {}),
          resourceAttributes: {
            verb: attrs.verb,
            group: "",
            version: "v1",
            resource: "nodes",
            subresource,
            name: nodeName,
          },
        };
        const key = JSON.stringify(spec);
        let allowed = decisions.get(key);
        if (allowed === undefined) {
          let review: { status?: { allowed?: boolean } };
          try {
            review = await client.request({
              method: "POST",
              path: "/apis/authorization.k8s.io/v1/subjectaccessreviews",
              body: { apiVersion: "authorization.k8s.io/v1", kind: "SubjectAccessReview", spec },
            });
          } catch (err) {
            throw KubeError.from(err);
          }
          allowed = review.status?.allowed === true;
          decisions.set(key, allowed, allowed ? allowedTtl : deniedTtl);
        }
        if (allowed) return true;
      }
      return false;
    },
  };
}
