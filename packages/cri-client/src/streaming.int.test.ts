import { request } from "node:http";
import type { Readable } from "node:stream";
import { type Containerd, startContainerd } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canRunContainerd, removePod, runPod } from "./__tests__/real-runtime.js";
import { type CriClient, createCriClient } from "./client.js";
import { attachStream, execStream, forwardPort, portForwardStream } from "./streaming.js";

const real = await canRunContainerd();

/** Resolves with everything read once `done(text)` holds (or the stream ended). */
function readUntil(stream: Readable, done: (text: string) => boolean = () => false): Promise<string> {
  return new Promise((resolve, reject) => {
    let text = "";
    const finish = () => {
      stream.off("data", onData);
      resolve(text);
    };
    const onData = (chunk: Buffer) => {
      text += chunk.toString("utf8");
      if (done(text)) finish();
    };
    stream.on("data", onData);
    stream.once("end", finish);
    stream.once("error", reject);
  });
}

function httpGet(port: number, path = "/"): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, path, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (c: string) => (body += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe.runIf(real)("exec, attach and port-forward over WebSocket against containerd", () => {
  let ctd: Containerd;
  let cri: CriClient;
  let pod: { podSandboxId: string; containerId: string };
  let echo: { podSandboxId: string; containerId: string };

  beforeAll(async () => {
    ctd = await startContainerd({ cni: true });
    cri = createCriClient({ endpoint: ctd.endpoint });
    await cri.connect();
    pod = await runPod(
      cri,
      ctd,
      "web",
      'mkdir -p /www && echo "hello through the tunnel" > /www/index.html && exec httpd -f -p 8080 -h /www',
    );
    echo = await runPod(cri, ctd, "echo", 'while read line; do echo "got $line"; done', { stdin: true });
  });
  afterAll(async () => {
    if (pod) await removePod(cri, pod.podSandboxId);
    if (echo) await removePod(cri, echo.podSandboxId);
    cri?.close();
    await ctd?.stop();
  });

  it("exec streams stdout and stderr apart and reports the exit code", async () => {
    const session = await execStream(cri, {
      containerId: pod.containerId,
      cmd: ["sh", "-c", "echo out; echo err >&2; exit 7"],
      stdout: true,
      stderr: true,
    });
    expect(session.protocol).toBe("v4.channel.k8s.io");
    const [out, err, exit] = await Promise.all([
      readUntil(session.stdout),
      readUntil(session.stderr),
      session.exit,
    ]);
    expect(out).toBe("out\n");
    expect(err).toBe("err\n");
    expect(exit.exitCode).toBe(7);
  });

  it("exec feeds stdin and reports success", async () => {
    const session = await execStream(cri, {
      containerId: pod.containerId,
      cmd: ["head", "-n", "1"],
      stdin: true,
      stdout: true,
    });
    session.stdin?.write("first line\nsecond line\n");
    const [out, exit] = await Promise.all([readUntil(session.stdout), session.exit]);
    expect(out).toBe("first line\n");
    expect(exit).toMatchObject({ exitCode: 0, status: { status: "Success" } });
  });

  it("exec with a TTY follows resizes", async () => {
    const session = await execStream(cri, {
      containerId: pod.containerId,
      cmd: ["sh", "-c", "while read line; do stty size; done"],
      stdin: true,
      stdout: true,
      tty: true,
    });
    session.resize({ width: 123, height: 45 });
    // The runtime applies resizes asynchronously to the input: ask again until the new size shows.
    let asked = 0;
    const ask = () => {
      if (asked++ < 100) session.stdin?.write("size?\r");
    };
    session.stdout.on("data", (chunk: Buffer) => {
      if (!chunk.toString().includes("45 123")) ask();
    });
    ask();
    const out = await readUntil(session.stdout, (t) => t.includes("45 123"));
    expect(out).toContain("45 123");
    session.close();
    await session.exit;
  });

  it("attach talks to the container's own stdin and stdout", async () => {
    const session = await attachStream(cri, {
      containerId: echo.containerId,
      stdin: true,
      stdout: true,
      stderr: true,
    });
    session.stdin?.write("ping\n");
    expect(await readUntil(session.stdout, (t) => t.includes("got ping"))).toContain("got ping");
    session.close();
    await session.exit;
    // Detaching leaves the container running.
    const { status } = await cri.containerStatus({ containerId: echo.containerId });
    expect(status?.state).toBe(1);
  });

  it("port-forwards a local TCP port to the container's HTTP server", async () => {
    const forwarder = await forwardPort(cri, pod.podSandboxId, 8080);
    try {
      // Each connection gets its own single-use URL.
      for (let i = 0; i < 3; i++) {
        const res = await httpGet(forwarder.localPort);
        expect(res).toEqual({ status: 200, body: "hello through the tunnel\n" });
      }
    } finally {
      await forwarder.close();
    }
  });

  it("port-forwards as a duplex stream, and reports a closed port", async () => {
    const stream = await portForwardStream(cri, pod.podSandboxId, 8080);
    stream.write("GET /index.html HTTP/1.0\r\n\r\n");
    const response = await readUntil(stream);
    expect(response).toMatch(/^HTTP\/1\.[01] 200 OK/);
    expect(response).toContain("hello through the tunnel");

    const closed = await portForwardStream(cri, pod.podSandboxId, 9);
    closed.write("x");
    await expect(readUntil(closed)).rejects.toMatchObject({ code: "StreamFailed" });
  });
});
