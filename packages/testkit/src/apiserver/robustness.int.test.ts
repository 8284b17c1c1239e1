import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "./server.js";
import { raw, statusOf } from "./test-support.js";

let server: ApiServer;
let core: CoreV1Api;

beforeAll(async () => {
  server = await startApiServer({
    controllers: { scheduler: false, endpointSlices: false, nodeLifecycle: false },
  });
  const kc = new KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);
  core = kc.makeApiClient(CoreV1Api);
});
afterAll(async () => {
  await server?.stop();
});

describe("concurrency", () => {
  it("20 concurrent read-modify-write writers lose no update", async () => {
    await core.createNamespacedConfigMap({
      namespace: "default",
      body: { metadata: { name: "counter" }, data: { n: "0" } },
    });
    // Contention grows with the square of the writers (every success sends the others round again);
    // 20 race hard enough to force conflicts without minutes of TLS handshakes on a loaded machine.
    const writers = 20;
    const perWriter = 2;
    let conflicts = 0;
    const writer = async (): Promise<void> => {
      for (let i = 0; i < perWriter; i++) {
        for (;;) {
          const cur = await core.readNamespacedConfigMap({ name: "counter", namespace: "default" });
          const n = Number(cur.data?.n ?? "0");
          try {
            await core.replaceNamespacedConfigMap({
              name: "counter",
              namespace: "default",
              body: { ...cur, data: { n: String(n + 1) } },
            });
            break;
          } catch (e) {
            if (statusOf(e).code !== 409) throw e;
            conflicts++;
            // jittered backoff like client-go's retry.RetryOnConflict (DefaultRetry: 10 ms steps)
            await new Promise((r) => setTimeout(r, Math.random() * 10 * Math.min(conflicts, 5)));
          }
        }
      }
    };
    await Promise.all(Array.from({ length: writers }, writer));
    const final = await core.readNamespacedConfigMap({ name: "counter", namespace: "default" });
    expect(final.data?.n).toBe(String(writers * perWriter));
    // with 20 writers racing, optimistic concurrency must actually have rejected stale writes
    expect(conflicts).toBeGreaterThan(0);
  });
});

describe("bad input", () => {
  const json = { "Content-Type": "application/json" };

  it("malformed JSON is a 400 BadRequest Status", async () => {
    const r = await raw(
      server,
      "POST",
      "/api/v1/namespaces/default/configmaps",
      '{"metadata": {"name": "x"',
      json,
    );
    expect(r.status).toBe(400);
    expect(r.body).toMatchObject({ kind: "Status", status: "Failure", reason: "BadRequest", code: 400 });
  });

  it("malformed YAML is a 400 BadRequest Status", async () => {
    const r = await raw(
      server,
      "POST",
      "/api/v1/namespaces/default/configmaps",
      "metadata: [name: x\n  - : :",
      { "Content-Type": "application/yaml" },
    );
    expect(r.status).toBe(400);
    expect(r.body.reason).toBe("BadRequest");
  });

  it("YAML bodies are accepted like JSON", async () => {
    const r = await raw(
      server,
      "POST",
      "/api/v1/namespaces/default/configmaps",
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-yaml\ndata:\n  a: b\n",
      {
        "Content-Type": "application/yaml",
      },
    );
    expect(r.status).toBe(201);
    expect(r.body.data).toEqual({ a: "b" });
  });

  it("a body of another kind is rejected", async () => {
    const r = await raw(
      server,
      "POST",
      "/api/v1/namespaces/default/configmaps",
      JSON.stringify({ apiVersion: "v1", kind: "Widget", metadata: { name: "w" } }),
      json,
    );
    expect(r.status).toBe(400);
    expect(r.body.message).toContain('no kind "Widget" is registered');
  });

  it("unknown resources and groups are 404 NotFound", async () => {
    const r1 = await raw(server, "GET", "/api/v1/widgets");
    expect(r1.status).toBe(404);
    expect(r1.body).toMatchObject({
      kind: "Status",
      reason: "NotFound",
      message: "the server could not find the requested resource",
    });
    const r2 = await raw(server, "GET", "/apis/example.com/v1");
    expect(r2.status).toBe(404);
  });

  it("invalid names are 422 Invalid with a field cause", async () => {
    const r = await raw(
      server,
      "POST",
      "/api/v1/namespaces/default/configmaps",
      JSON.stringify({ metadata: { name: "UPPER" } }),
      json,
    );
    expect(r.status).toBe(422);
    expect(r.body.reason).toBe("Invalid");
    expect(r.body.details.causes).toEqual([
      expect.objectContaining({ field: "metadata.name", reason: "FieldValueInvalid" }),
    ]);
    const pod = await raw(
      server,
      "POST",
      "/api/v1/namespaces/default/pods",
      JSON.stringify({ metadata: { name: "nocontainers" }, spec: {} }),
      json,
    );
    expect(pod.status).toBe(422);
    expect(pod.body.message).toBe('Pod "nocontainers" is invalid: spec.containers: Required value');
  });

  it("unknown fields warn by default and fail with fieldValidation=Strict", async () => {
    const body = JSON.stringify({ metadata: { name: "fv", labelz: { a: "b" } }, datas: { a: "b" } });
    const warn = await raw(server, "POST", "/api/v1/namespaces/default/configmaps", body, json);
    expect(warn.status).toBe(201);
    expect(String(warn.headers.warning)).toContain('299 - "unknown field \\"datas\\""');
    const strict = await raw(
      server,
      "POST",
      "/api/v1/namespaces/default/configmaps?fieldValidation=Strict",
      body.replace('"fv"', '"fv2"'),
      json,
    );
    expect(strict.status).toBe(400);
    expect(strict.body.message).toBe(
      'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: unknown field "datas", unknown field "metadata.labelz"',
    );
  });

  it("wrong content types are 415 UnsupportedMediaType", async () => {
    const r = await raw(server, "POST", "/api/v1/namespaces/default/configmaps", "name=x", {
      "Content-Type": "application/x-www-form-urlencoded",
    });
    expect(r.status).toBe(415);
    expect(r.body.reason).toBe("UnsupportedMediaType");
    const p = await raw(server, "PATCH", "/api/v1/namespaces/default/configmaps/from-yaml", "{}", json);
    expect(p.status).toBe(415);
  });

  it("unsupported verbs are 405 MethodNotAllowed", async () => {
    const r = await raw(server, "PUT", "/api/v1/namespaces/default/configmaps", "{}", json);
    expect(r.status).toBe(405);
    expect(r.body.reason).toBe("MethodNotAllowed");
    const t = await raw(server, "GET", "/apis/authentication.k8s.io/v1/tokenreviews");
    expect(t.status).toBe(405);
  });

  it("bad selectors, limits and resource versions are 400 BadRequest", async () => {
    for (const q of [
      "labelSelector=a%20in%20(",
      "fieldSelector=nope.field%3Dx",
      "limit=-3",
      "resourceVersion=abc",
    ]) {
      const r = await raw(server, "GET", `/api/v1/namespaces/default/pods?${q}`);
      expect(r.status, q).toBe(400);
      expect(r.body.reason, q).toBe("BadRequest");
    }
  });

  it("unauthenticated requests are 401 and oversized bodies 413", async () => {
    const noAuth = await fetchInsecure(`${server.url}/api/v1/namespaces`);
    expect(noAuth.status).toBe(401);
    const big = await raw(
      server,
      "POST",
      "/api/v1/namespaces/default/configmaps",
      JSON.stringify({ metadata: { name: "big" }, data: { a: "x".repeat(4 * 1024 * 1024) } }),
      json,
    );
    expect(big.status).toBe(413);
  });

  it("the server is still healthy after all of that", async () => {
    const r = await raw(server, "GET", "/api/v1/namespaces/default/configmaps/from-yaml");
    expect(r.status).toBe(200);
    const h = await raw(server, "GET", "/readyz");
    expect(h.text).toBe("ok");
  });
});

async function fetchInsecure(url: string): Promise<{ status: number }> {
  const { request } = await import("node:https");
  return new Promise((resolve, reject) => {
    const req = request(url, { ca: server.caPem }, (res) => {
      res.resume();
      resolve({ status: res.statusCode ?? 0 });
    });
    req.on("error", reject);
    req.end();
  });
}
