import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { WebSocketServer } from "ws";
import { connectStream, forwardPort, portForwardStream } from "./streaming.js";

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

/** A streaming server speaking the first protocol of `accept` the client offers. */
async function fakeStreamingServer(accept: string[], onConnection: (ws: import("ws").WebSocket) => void) {
  const server = createServer((_req, res) => {
    res.writeHead(404).end("not found: token expired");
  });
  servers.push(server);
  const wss = new WebSocketServer({
    noServer: true,
    handleProtocols: (offered) => accept.find((p) => offered.has(p)) ?? false,
  });
  server.on("upgrade", (req, socket, head) => {
    if (req.url?.startsWith("/missing")) {
      socket.end("HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nno token\n");
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => onConnection(ws));
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

const frame = (channel: number, text: string) => Buffer.concat([Buffer.from([channel]), Buffer.from(text)]);

describe("connectStream", () => {
  it("demultiplexes channels sent right after the handshake and reads the exit code from the status", async () => {
    const base = await fakeStreamingServer(["v4.channel.k8s.io"], (ws) => {
      ws.send(frame(1, "out"));
      ws.send(frame(2, "err"));
      ws.send(
        frame(
          3,
          JSON.stringify({
            status: "Failure",
            reason: "NonZeroExitCode",
            message: "command terminated with non-zero exit code: 3",
            details: { causes: [{ reason: "ExitCode", message: "3" }] },
          }),
        ),
      );
      ws.close();
    });
    const session = await connectStream(`${base}/exec/abc`);
    const chunks: string[] = [];
    session.stdout.on("data", (c: Buffer) => chunks.push(`1:${c}`));
    session.stderr.on("data", (c: Buffer) => chunks.push(`2:${c}`));
    await expect(session.exit).resolves.toMatchObject({ exitCode: 3 });
    expect(chunks.sort()).toEqual(["1:out", "2:err"]);
  });

  it("rejects exit with StreamFailed for a failure that is not an exit code", async () => {
    const base = await fakeStreamingServer(["v4.channel.k8s.io"], (ws) => {
      ws.send(frame(3, JSON.stringify({ status: "Failure", message: "container not running" })));
      ws.close();
    });
    const session = await connectStream(`${base}/exec/abc`);
    session.stdout.resume();
    await expect(session.exit).rejects.toMatchObject({
      code: "StreamFailed",
      message: "remote command failed: container not running",
    });
  });

  it("sends stdin, resize and (with v5) end-of-input frames", async () => {
    const received: string[] = [];
    const base = await fakeStreamingServer(["v5.channel.k8s.io", "v4.channel.k8s.io"], (ws) => {
      ws.on("message", (data: Buffer) => {
        received.push(`${data[0]}:${data.subarray(1).toString("latin1")}`);
        if (data[0] === 255) ws.close();
      });
    });
    const session = await connectStream(`${base}/exec/abc`, { stdin: true });
    expect(session.protocol).toBe("v5.channel.k8s.io");
    session.resize({ width: 80, height: 24 });
    session.stdin?.end("input");
    await session.exit;
    expect(received).toEqual(['4:{"Width":80,"Height":24}', "0:input", "255:\u0000"]);
  });

  it("explains an HTTP error from the streaming server", async () => {
    const base = await fakeStreamingServer(["v4.channel.k8s.io"], () => {});
    await expect(connectStream(`${base}/missing/xyz`)).rejects.toMatchObject({
      code: "StreamFailed",
      message: expect.stringMatching(/answered HTTP 404: no token.*single-use/),
    });
  });

  it("rejects URLs that are not http(s) or ws(s)", async () => {
    await expect(connectStream("ftp://x/exec/1")).rejects.toMatchObject({ code: "InvalidArgument" });
  });
});

describe("port-forward helpers", () => {
  const noCalls = {
    portForward: async () => {
      throw new Error("must not be called");
    },
  };

  it("rejects a port outside 1-65535 before calling the runtime", async () => {
    await expect(portForwardStream(noCalls, "pod", 0)).rejects.toMatchObject({
      code: "InvalidArgument",
      message: "port must be an integer in 1-65535, got 0",
    });
  });

  it("reports a local port that cannot be bound as StreamFailed", async () => {
    const first = await forwardPort(noCalls, "pod", 80);
    try {
      await expect(forwardPort(noCalls, "pod", 80, { localPort: first.localPort })).rejects.toMatchObject({
        code: "StreamFailed",
        message: expect.stringContaining("cannot listen on 127.0.0.1"),
      });
    } finally {
      await first.close();
    }
  });
});
