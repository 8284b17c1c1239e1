import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "./server.js";
import { kubectl, requireKubectl } from "./test-support.js";
import type { Json } from "./types.js";

// TokenReview of bootstrap tokens, as kube-apiserver's bootstrap token authenticator
// (plugin/pkg/auth/authenticator/token/bootstrap) answers it behind the TokenReview API.

const hasKubectl = await requireKubectl("the TokenReview tests");

const START_MS = Date.parse("2026-03-01T00:00:00Z");
let nowMs = START_MS;
let server: ApiServer;

const b64 = (v: string) => Buffer.from(v).toString("base64");
const tokenSecret = (id: string, secret: string, extra: Record<string, string> = {}): Json => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: `bootstrap-token-${id}`, namespace: "kube-system" },
  type: "bootstrap.kubernetes.io/token",
  data: Object.fromEntries(
    Object.entries({
      "token-id": id,
      "token-secret": secret,
      "usage-bootstrap-authentication": "true",
      ...extra,
    }).map(([k, v]) => [k, b64(v)]),
  ),
});

beforeAll(async () => {
  server = await startApiServer({
    clock: { now: () => nowMs },
    controllers: { scheduler: false, endpointSlices: false, nodeLifecycle: false },
  });
  if (!hasKubectl) return;
  const secrets = [
    tokenSecret("abcdef", "0123456789abcdef", {
      "auth-extra-groups": "system:bootstrappers:kubeadm:default-node-token,system:bootstrappers:worker",
      expiration: "2026-03-01T01:00:00Z",
    }),
    tokenSecret("nouse0", "0123456789abcdef", { "usage-bootstrap-authentication": "false" }),
    // extra groups must be system:bootstrappers:*: a token claiming system:masters is refused whole
    tokenSecret("badgrp", "0123456789abcdef", { "auth-extra-groups": "system:masters" }),
  ];
  for (const s of secrets) {
    const r = await kubectl(server.kubeconfigPath, ["create", "-f", "-"], JSON.stringify(s));
    expect(r.stderr).toBe("");
  }
});
afterAll(async () => {
  await server?.stop();
});

/** `kubectl create -f - -o json` of a TokenReview: the status kube-apiserver fills in. */
async function review(token: string, audiences?: string[]): Promise<Json> {
  const body = {
    apiVersion: "authentication.k8s.io/v1",
    kind: "TokenReview",
    spec: { token, ...(audiences ? { audiences } : {}) },
  };
  const r = await kubectl(server.kubeconfigPath, ["create", "-f", "-", "-o", "json"], JSON.stringify(body));
  expect(r.stderr).toBe("");
  expect(r.code).toBe(0);
  return JSON.parse(r.stdout).status;
}

const UNAUTHENTICATED = { user: {}, error: "[invalid bearer token, token lookup failed]" };

describe.skipIf(!hasKubectl)("TokenReview of bootstrap tokens", () => {
  it("a valid token is system:bootstrap:<id> in system:bootstrappers plus its extra groups", async () => {
    expect(await review("abcdef.0123456789abcdef")).toEqual({
      authenticated: true,
      user: {
        username: "system:bootstrap:abcdef",
        groups: [
          "system:bootstrappers",
          "system:bootstrappers:kubeadm:default-node-token",
          "system:bootstrappers:worker",
          "system:authenticated",
        ],
      },
      audiences: ["https://kubernetes.default.svc.cluster.local"],
    });
  });

  it("a wrong secret, an unknown id, a token not for authentication, a malformed one or a foreign extra group is unauthenticated", async () => {
    expect(await review("abcdef.0123456789abcdee")).toEqual(UNAUTHENTICATED);
    expect(await review("zzzzzz.0123456789abcdef")).toEqual(UNAUTHENTICATED);
    expect(await review("nouse0.0123456789abcdef")).toEqual(UNAUTHENTICATED);
    expect(await review("abcdef.0123456789ABCDEF")).toEqual(UNAUTHENTICATED);
    expect(await review("badgrp.0123456789abcdef")).toEqual(UNAUTHENTICATED);
  });

  it("only the API server's audiences are answered (the authenticator is audience-agnostic)", async () => {
    expect(
      await review("abcdef.0123456789abcdef", ["vault", "https://kubernetes.default.svc.cluster.local"]),
    ).toMatchObject({
      authenticated: true,
      audiences: ["https://kubernetes.default.svc.cluster.local"],
    });
    expect(await review("abcdef.0123456789abcdef", ["vault"])).toEqual(UNAUTHENTICATED);
  });

  it("the token expires at its expiration on the server's clock", async () => {
    nowMs = Date.parse("2026-03-01T00:59:59Z");
    expect(await review("abcdef.0123456789abcdef")).toMatchObject({ authenticated: true });
    nowMs = Date.parse("2026-03-01T01:00:00Z");
    expect(await review("abcdef.0123456789abcdef")).toEqual(UNAUTHENTICATED);
    nowMs = START_MS;
  });
});
