// Service account tokens for projected volumes (upstream pkg/kubelet/token/token_manager.go): one
// TokenRequest per (service account, audiences, expiry, pod), cached and re-requested when older
// than 80% of its lifetime or 24 h (minus up to 10 s of jitter), as upstream's requiresRefresh.
import type { Clock } from "@kubenode/kube";
import type { IssuedToken, ObjectSource, TokenRequestSpec } from "../object-source.js";

const MAX_TTL_MS = 24 * 3600_000;
const MAX_JITTER_MS = 10_000;

export interface TokenManager {
  getToken(namespace: string, serviceAccount: string, spec: TokenRequestSpec): Promise<string>;
  /** Drops the tokens bound to a pod that is gone. */
  forgetPod(uid: string): void;
}

interface Cached extends IssuedToken {
  expirationSeconds: number;
}

/** Whether a token issued for `expirationSeconds` and expiring at `expMs` needs a refresh at `nowMs`. */
export function requiresRefresh(
  nowMs: number,
  expMs: number,
  expirationSeconds: number,
  jitterMs: number,
): boolean {
  const iatMs = expMs - expirationSeconds * 1000;
  if (nowMs > iatMs + MAX_TTL_MS - jitterMs) return true;
  return nowMs > expMs - Math.floor((expirationSeconds * 20) / 100) * 1000 - jitterMs;
}

export function createTokenManager(options: {
  objects: Pick<ObjectSource, "requestToken">;
  clock: Pick<Clock, "now">;
  random?: () => number;
}): TokenManager {
  const cache = new Map<string, Cached>();
  const random = options.random ?? Math.random;
  const key = (ns: string, sa: string, s: TokenRequestSpec) =>
    JSON.stringify([ns, sa, s.audiences, s.expirationSeconds, s.boundPod.uid]);
  return {
    async getToken(namespace, serviceAccount, spec) {
      const k = key(namespace, serviceAccount, spec);
      const now = options.clock.now();
      const cached = cache.get(k);
      const jitter = Math.floor(random() * (MAX_JITTER_MS / 1000)) * 1000;
      if (cached && !requiresRefresh(now, cached.expirationTimestampMs, cached.expirationSeconds, jitter))
        return cached.token;
      try {
        const issued = await options.objects.requestToken(namespace, serviceAccount, spec);
        cache.set(k, { ...issued, expirationSeconds: spec.expirationSeconds });
        return issued.token;
      } catch (err) {
        // Upstream keeps serving a cached token that has not expired yet when a refresh fails.
        if (cached && now < cached.expirationTimestampMs) return cached.token;
        throw err;
      }
    },
    forgetPod(uid) {
      for (const [k, v] of cache) {
        void v;
        if ((JSON.parse(k) as unknown[])[4] === uid) cache.delete(k);
      }
    },
  };
}
