import { type ChildProcess, spawn } from "node:child_process";
import { Agent, request } from "node:https";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));

/** A simulator in a child process plus an HTTPS agent authenticated as admin. */
export interface BenchServer {
  url: string;
  agent: Agent;
  child: ChildProcess;
  stop(): Promise<void>;
}

export async function startChildServer(): Promise<BenchServer> {
  const child = spawn(
    process.execPath,
    ["--import", join(here, "apiserver-ts-hook.ts"), join(here, "apiserver-child.ts")],
    {
      stdio: ["ignore", "pipe", "inherit"],
    },
  );
  const line: string = await new Promise((resolve, reject) => {
    let buf = "";
    child.stdout!.on("data", (d: Buffer) => {
      buf += d.toString();
      const i = buf.indexOf("\n");
      if (i >= 0) resolve(buf.slice(0, i));
    });
    child.once("exit", (code) => reject(new Error(`bench server exited with ${code}`)));
  });
  const { url, kubeconfig } = JSON.parse(line);
  const kc = JSON.parse(kubeconfig);
  const user = kc.users[0].user;
  const agent = new Agent({
    keepAlive: true,
    maxSockets: 256,
    ca: Buffer.from(kc.clusters[0].cluster["certificate-authority-data"], "base64"),
    cert: Buffer.from(user["client-certificate-data"], "base64"),
    key: Buffer.from(user["client-key-data"], "base64"),
  });
  return {
    url,
    agent,
    child,
    stop: async () => {
      agent.destroy();
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
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

export function percentile(sorted: number[], p: number): number {
  if (!sorted.length) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
}

export const fmt = (n: number, digits = 1): string => n.toFixed(digits);

/** Wall-clock milliseconds with sub-millisecond precision, comparable across processes. */
export const nowMs = (): number => performance.timeOrigin + performance.now();
