import { createServer, type Socket } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { createKubeClient } from "./client.js";
import { KubeError } from "./errors.js";

describe("createKubeClient against a server that accepts and never answers", () => {
  const sockets = new Set<Socket>();
  const server = createServer((s) => sockets.add(s));
  afterEach(async () => {
    for (const s of sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  });

  it("fails a watch whose response headers do not come within the request timeout", async () => {
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    const client = createKubeClient({ server: `http://127.0.0.1:${port}` }, { requestTimeoutMs: 200 });
    const events = client.watch("/api/v1/pods", {})[Symbol.asyncIterator]();
    const err = await events.next().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(KubeError);
    expect((err as KubeError).code).toBe("Timeout");
    expect((err as KubeError).message).toMatch(/WATCH \/api\/v1\/pods: no response headers within 200 ms/);
    client.close();
  });
});

describe("createKubeClient on a keep-alive connection the server has just closed", () => {
  it("sends the request once more on a new connection (Node's reusedSocket race) and gets the answer", async () => {
    const { createServer: createHttpServer } = await import("node:http");
    let connections = 0;
    const seenOnSocket = new WeakMap<object, number>();
    const server = createHttpServer((req, res) => {
      const n = (seenOnSocket.get(req.socket) ?? 0) + 1;
      seenOnSocket.set(req.socket, n);
      // The second request on a kept-alive connection meets a server that is closing it.
      if (n === 2) {
        req.socket.destroy();
        return;
      }
      res.setHeader("content-type", "application/json");
      res.end(JSON.stringify({ kind: "Status", n }));
    });
    server.on("connection", () => connections++);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    const { port } = server.address() as { port: number };
    const client = createKubeClient({ server: `http://127.0.0.1:${port}` });
    try {
      const first = await client.request<{ n: number }>({ method: "POST", path: "/x", body: {} });
      const second = await client.request<{ n: number }>({ method: "POST", path: "/x", body: {} });
      expect([first.n, second.n]).toEqual([1, 1]);
      expect(connections).toBe(2);
    } finally {
      client.close();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
