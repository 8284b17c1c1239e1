import { type ChildProcess, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { Agent, request } from "node:https";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** A simulator in a child process plus an HTTPS agent authenticated as admin. */
export interface BenchServer {
  url: string;
  agent: Agent;
  /** Unlimited connections, for watches. */
  streamAgent: Agent;
  child: ChildProcess;
  /** Starts a fresh server-side latency record (after warm-up). */
  resetServerStats(): void;
  /** Stops the server; resolves with its server-side latency summary for updates/patches. */
  stop(): Promise<unknown>;
}

export async function startChildServer(): Promise<BenchServer> {
  const child = spawn(
    process.execPath,
    ["--import", join(here, "apiserver-ts-hook.ts"), join(here, "apiserver-child.ts")],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  let out = "";
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
  });
  const line: string = await new Promise((resolve, reject) => {
    const onData = (): void => {
      const i = out.indexOf("\n");
      if (i >= 0) {
        child.stdout!.off("data", onData);
        resolve(out.slice(0, i));
        out = out.slice(i + 1);
      }
    };
    child.stdout!.on("data", onData);
    child.once("exit", (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  const { url, kubeconfig } = JSON.parse(line);
  const kc = JSON.parse(kubeconfig);
  const user = kc.users[0].user;
  const agent = new Agent({
    keepAlive: true,
    // few, always-busy connections (like a client-go HTTP/2 connection): no handshake bursts mid-run
    maxSockets: 32,
    scheduling: "fifo",
    ca: Buffer.from(kc.clusters[0].cluster["certificate-authority-data"], "base64"),
    cert: Buffer.from(user["client-certificate-data"], "base64"),
    key: Buffer.from(user["client-key-data"], "base64"),
  });
  // one connection per long-running watch
  const streamAgent = new Agent({
    keepAlive: true,
    ca: Buffer.from(kc.clusters[0].cluster["certificate-authority-data"], "base64"),
    cert: Buffer.from(user["client-certificate-data"], "base64"),
    key: Buffer.from(user["client-key-data"], "base64"),
  });
  return {
    url,
    agent,
    streamAgent,
    child,
    resetServerStats: () => {
      child.kill("SIGUSR1");
    },
    stop: async () => {
      agent.destroy();
      streamAgent.destroy();
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      const last = out.trim().split("\n").pop() ?? "";
      try {
        return JSON.parse(last).serverLatencyMs;
      } catch {
        return undefined;
      }
    },
  };
}

/** One JSON request over the keep-alive agent; resolves with status and body text. */
export function call(
  s: BenchServer,
  method: string,
  path: string,
  body?: unknown,
  contentType = "application/json",
): Promise<{ status: number; text: string }> {
  const u = new URL(path, s.url);
  const payload = body === undefined ? undefined : typeof body === "string" ? body : JSON.stringify(body);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        method,
        hostname: u.hostname,
        port: u.port,
        path: u.pathname + u.search,
        agent: s.agent,
        headers:
          payload === undefined
            ? {}
            : { "Content-Type": contentType, "Content-Length": Buffer.byteLength(payload) },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on("error", reject);
    if (payload !== undefined) req.write(payload);
    req.end();
  });
}

/** CPU seconds (user + system) the server process used so far, from /proc (Linux). */
export function serverCpuSeconds(s: BenchServer): number {
  try {
    const stat = readFileSync(`/proc/${s.child.pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime + stime in clock ticks (USER_HZ = 100)
  } catch {
    return Number.NaN;
  }
}

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const fmt = (n: number, digits = 1): string => n.toFixed(digits);

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export const nowMs = (): number => performance.timeOrigin + performance.now();
