import type { ChildProcess } from "node:child_process";
import { rm } from "node:fs/promises";
import { type AddressInfo, connect, createServer, type Server, type Socket } from "node:net";
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

/** A port inside a lab namespace, made reachable from the host at 127.0.0.1:`port`. */
export interface NamespacePortExposure {
  /** The host's loopback port that leads to the namespace's address and port. */
  readonly port: number;
  /** Stops listening, drops every connection and stops the forwarder in the namespace. */
  close(): Promise<void>;
}

// Runs inside the namespace: a unix socket listener (on the filesystem both sides share) forwarding
// each connection to host:port as the namespace sees it. Argument of `node -e`, never via a shell.
const REVERSE_FORWARDER = `
import net from "node:net";
const [path, host, port] = process.argv.slice(1);
const pair = (a, b) => {
  a.pipe(b).pipe(a);
  const close = () => { a.destroy(); b.destroy(); };
  for (const s of [a, b]) s.on("error", close);
};
net.createServer({ allowHalfOpen: true }, (c) => pair(c, net.connect({ host, port: Number(port), allowHalfOpen: true }))).listen(path, () => console.log("ready"));
process.on("SIGTERM", () => process.exit(0));
`;

/**
 * The reverse of {@link bridgeHostPort}: `address:port` as seen inside a namespace (a kubelet's
 * :10250 on the node's IP, say) becomes reachable from the host at 127.0.0.1:<a free port>.
 * Namespace side, a forwarder started with `spawnInNamespace` listens on a unix socket and dials
 * the target for every connection; host side, a TCP listener on loopback connects to that socket.
 */
export async function exposeNamespacePort(
  address: string,
  port: number,
  spawnInNamespace: (argv: readonly string[]) => ChildProcess,
): Promise<NamespacePortExposure> {
  const dir = await instanceDir("bridge");
  const path = join(dir, "port.sock");
  const forwarder = spawnInNamespace([
    process.execPath,
    "--input-type=module",
    "-e",
    REVERSE_FORWARDER,
    path,
    address,
    String(port),
  ]);
  const open = new Set<Socket>();
  let server: Server | undefined;
  const close = async () => {
    forwarder.kill("SIGKILL");
    if (server) {
      const closed = new Promise<void>((resolve) => server?.close(() => resolve()));
      for (const s of open) s.destroy();
      await closed;
    }
    await rm(dir, { recursive: true, force: true });
  };
  try {
    await new Promise<void>((resolve, reject) => {
      let out = "";
      const timer = setTimeout(
        () => reject(new Error(`the forwarder to ${address}:${port} did not start within 10 s`)),
        10_000,
      );
      forwarder.stdout?.on("data", (d: Buffer) => {
        out += d.toString();
        if (out.includes("ready")) {
          clearTimeout(timer);
          resolve();
        }
      });
      forwarder.once("exit", (code, signal) => {
        clearTimeout(timer);
        reject(new Error(`the forwarder to ${address}:${port} exited (${signal ?? `code ${code}`})`));
      });
    });
    const listener = createServer({ allowHalfOpen: true }, (c) =>
      pipeBoth(c, connect({ path, allowHalfOpen: true }), open),
    );
    server = listener;
    await new Promise<void>((resolve, reject) => {
      listener.once("error", reject);
      listener.listen(0, "127.0.0.1", () => resolve());
    });
  } catch (err) {
    await close();
    throw err;
  }
  return { port: (server.address() as AddressInfo).port, close };
}
