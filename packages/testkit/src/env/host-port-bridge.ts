import type { ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { instanceDir } from "./paths.js";

/** The host's 127.0.0.1:port, made reachable inside a lab namespace. */
export interface HostPortBridge {
  readonly port: number;
  /** Drops every connection and refuses new ones, like a server that went down. */
  pause(): Promise<void>;
  /** Accepts connections again after `pause()`. */
  resume(): Promise<void>;
  /** Removes the bridge (the lab's `destroy()` does this too). */
  close(): Promise<void>;
}

// Runs inside the namespace: a TCP listener on 127.0.0.1:port forwarding to a unix socket, which
// lives on the filesystem both sides share. Passed to `node -e` as an argument, never via a shell.
const FORWARDER = `
import net from "node:net";
const [path, port] = process.argv.slice(1);
const pair = (a, b) => {
  a.pipe(b).pipe(a);
  const close = () => { a.destroy(); b.destroy(); };
  for (const s of [a, b]) s.on("error", close);
};
net.createServer({ allowHalfOpen: true }, (c) => pair(c, net.connect({ path, allowHalfOpen: true }))).listen(Number(port), "127.0.0.1", () => console.log("ready"));
process.on("SIGTERM", () => process.exit(0));
`;

// Half-closes travel through (a client that shuts its write side still gets its answer); an
// error on either side ends both.
function pipeBoth(a: Socket, b: Socket, open: Set<Socket>): void {
  open.add(a);
  open.add(b);
  a.pipe(b).pipe(a);
  const destroy = () => {
    a.destroy();
    b.destroy();
  };
  for (const s of [a, b]) {
    s.on("error", destroy);
    s.on("close", () => open.delete(s));
  }
}

/**
 * Bridges the host's loopback port into a namespace: host side, a unix socket server forwarding
 * to 127.0.0.1:port; namespace side, a forwarder started with `spawnInNamespace`.
 */
export async function bridgeHostPort(
  port: number,
  spawnInNamespace: (argv: readonly string[]) => ChildProcess,
  waitForListening: (port: number) => Promise<void>,
): Promise<HostPortBridge> {
  const dir = await instanceDir("bridge");
  const path = join(dir, "port.sock");
  const open = new Set<Socket>();
  const server: Server = createServer({ allowHalfOpen: true }, (c) =>
    pipeBoth(c, connect({ port, host: "127.0.0.1", allowHalfOpen: true }), open),
  );
  let listening = false;
  const listen = async () => {
    if (listening) return;
    await rm(path, { force: true });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(path, () => {
        server.off("error", reject);
        resolve();
      });
    });
    listening = true;
  };
  const pause = async () => {
    if (!listening) return;
    listening = false;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of open) s.destroy();
    await closed;
  };
  await listen();
  const forwarder = spawnInNamespace([
    process.execPath,
    "--input-type=module",
    "-e",
    FORWARDER,
    path,
    String(port),
  ]);
  await waitForListening(port);
  return {
    port,
    pause,
    resume: listen,
    async close() {
      forwarder.kill("SIGKILL");
      await pause();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
