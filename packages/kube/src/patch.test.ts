import http from "node:http";
import type { AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKubeClient } from "./client.js";
import { createFakeClock } from "./clock.js";
import { KubeError } from "./errors.js";
import { jsonPatch, mergePatch, retryOnConflict, strategicMergePatch } from "./patch.js";

const seen: {
  method: string | undefined;
  url: string | undefined;
  contentType: string | undefined;
  body: string;
}[] = [];
let server: http.Server;
let url: string;

beforeAll(async () => {
  server = http.createServer((req, res) => {
    let body = "";
    req.on("data", (c) => (body += c));
    req.on("end", () => {
      seen.push({ method: req.method, url: req.url, contentType: req.headers["content-type"], body });
      res.setHeader("content-type", "application/json");
      if (req.url?.startsWith("/missing")) {
        res.statusCode = 404;
        res.end(
          JSON.stringify({
            kind: "Status",
            code: 404,
            reason: "NotFound",
            message: 'nodes "missing" not found',
          }),
        );
        return;
      }
      res.end(JSON.stringify({ ok: true }));
    });
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
});

describe("patch helpers", () => {
  it("send each patch flavour with its own content type", async () => {
    const client = createKubeClient({ server: url });
    await strategicMergePatch(client, "/api/v1/nodes/a/status", { status: {} });
    await mergePatch(
      client,
      "/api/v1/nodes/a",
      { metadata: { labels: { x: null } } },
      { fieldManager: "me" },
    );
    await jsonPatch(client, "/api/v1/nodes/a", [{ op: "remove", path: "/spec/taints/0" }]);
    expect(seen.map((s) => [s.method, s.url, s.contentType])).toEqual([
      ["PATCH", "/api/v1/nodes/a/status", "application/strategic-merge-patch+json"],
      ["PATCH", "/api/v1/nodes/a?fieldManager=me", "application/merge-patch+json"],
      ["PATCH", "/api/v1/nodes/a", "application/json-patch+json"],
    ]);
    expect(JSON.parse(seen[2]!.body)).toEqual([{ op: "remove", path: "/spec/taints/0" }]);
    expect(() => jsonPatch(client, "/x", {} as never)).toThrow(/list of operations/);
    expect(() => mergePatch(client, "/x", [] as never)).toThrow(/must be an object/);
    client.close();
  });

  it("turns an error response into a typed KubeError with the server's message", async () => {
    const client = createKubeClient({ server: url });
    const err = await client.request({ method: "GET", path: "/missing" }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeError);
    expect(err).toMatchObject({ code: "NotFound", httpStatus: 404, reason: "NotFound" });
    expect((err as Error).message).toBe('GET /missing: nodes "missing" not found');
    const refused = await createKubeClient({ server: "http://127.0.0.1:1" })
      .request({ method: "GET", path: "/" })
      .catch((e: unknown) => e);
    expect(refused).toMatchObject({ code: "Network" });
    client.close();
  });
});

describe("retryOnConflict", () => {
  it("retries conflicts only, up to the step limit", async () => {
    const clock = createFakeClock();
    let calls = 0;
    const p = retryOnConflict(
      async () => {
        calls++;
        if (calls < 3)
          throw KubeError.fromResponse(409, { kind: "Status", reason: "Conflict", message: "modified" });
        return "done";
      },
      { clock },
    );
    await clock.step(100);
    await expect(p).resolves.toBe("done");
    expect(calls).toBe(3);

    let n = 0;
    const never = retryOnConflict(
      async () => {
        n++;
        throw KubeError.fromResponse(409, { kind: "Status", reason: "Conflict", message: "modified" });
      },
      { clock, steps: 2 },
    );
    const settled = never.catch((e: unknown) => e);
    await clock.step(100);
    expect(await settled).toMatchObject({ code: "Conflict" });
    expect(n).toBe(2);
    await expect(
      retryOnConflict(async () => Promise.reject(new KubeError("NotFound", "x")), { clock }),
    ).rejects.toMatchObject({
      code: "NotFound",
    });
  });
});
