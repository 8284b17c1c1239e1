import { execFile } from "node:child_process";
import { request as httpRequest } from "node:http";
import { request } from "node:https";
import { dirname, join } from "node:path";
import { waitFor } from "../env/exec.js";
import type { ApiServer } from "./server.js";
import type { Json } from "./types.js";

/** Polls `fn` until it returns a truthy value (or stops throwing), failing after `timeoutMs`. */
export function eventually<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = "condition",
): Promise<NonNullable<T>> {
  return waitFor(what, async () => (await fn()) || undefined, { timeoutMs, intervalMs: 20 }) as Promise<
    NonNullable<T>
  >;
}

/** A raw HTTP(S) request as an identity: used for wire-level and bad-input checks. */
export function raw(
  server: ApiServer,
  method: string,
  path: string,
  body?: string | Buffer,
  headers: Record<string, string> = {},
  identity = "admin",
): Promise<{ status: number; body: Json; text: string; headers: Record<string, unknown> }> {
  const kc = JSON.parse(server.kubeconfigText(identity));
  const user = kc.users[0].user;
  const url = new URL(path, server.url);
  const h: Record<string, string | number> = { ...headers };
  if (body !== undefined) h["Content-Length"] = Buffer.byteLength(body);
  if (user.token) h.Authorization = `Bearer ${user.token}`;
  return new Promise((resolve, reject) => {
    const opts = {
      method,
      hostname: url.hostname,
      port: url.port,
      path: url.pathname + url.search,
      headers: h,
      ...(server.caPem ? { ca: server.caPem } : {}),
      ...(user["client-certificate-data"]
        ? {
            cert: Buffer.from(user["client-certificate-data"], "base64"),
            key: Buffer.from(user["client-key-data"], "base64"),
          }
        : {}),
    };
    const req = (url.protocol === "https:" ? request : httpRequest)(opts, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => {
        const text = Buffer.concat(chunks).toString();
        let parsed: Json;
        try {
          parsed = JSON.parse(text);
        } catch {
          parsed = undefined;
        }
        resolve({ status: res.statusCode ?? 0, body: parsed, text, headers: res.headers });
      });
    });
    req.on("error", reject);
    if (body !== undefined) req.write(body);
    req.end();
  });
}

/** Parses the JSON Status body that client-node's ApiException carries as a string. */
export function statusOf(e: unknown): { code: number; reason?: string; message?: string; details?: Json } {
  const err = e as { code?: number; body?: unknown };
  const body = typeof err.body === "string" ? JSON.parse(err.body) : err.body;
  return { code: err.code ?? 0, ...(body ?? {}) };
}

/** What a kubectl run printed and how it exited. */
export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs kubectl with an argument array (never a shell); a manifest goes to stdin (`-f -`). */
export function kubectl(
  kubeconfig: string,
  args: string[],
  stdin?: string,
  timeoutMs = 120_000,
): Promise<KubectlResult> {
  return new Promise((resolve) => {
    const child = execFile(
      "kubectl",
      // a private discovery cache: servers on recycled ports must not see each other's cache
      ["--kubeconfig", kubeconfig, "--cache-dir", join(dirname(kubeconfig), "kubectl-cache"), ...args],
      { timeout: timeoutMs },
      (err, stdout, stderr) => {
        const code = err
          ? typeof (err as { code?: unknown }).code === "number"
            ? (err as { code: number }).code
            : 1
          : 0;
        resolve({ code, stdout: String(stdout), stderr: String(stderr) });
      },
    );
    if (stdin !== undefined) child.stdin?.end(stdin);
    else child.stdin?.end();
  });
}

/**
 * Whether kubectl is on PATH. Under CI=true a missing kubectl fails the test file (naming it)
 * instead of skipping; elsewhere it warns loudly and the caller skips.
 */
export async function requireKubectl(what: string): Promise<boolean> {
  const available = await new Promise<boolean>((resolve) => {
    execFile("kubectl", ["version", "--client", "-o", "json"], (err) => resolve(!err));
  });
  if (!available && process.env.CI === "true")
    throw new Error(`kubectl is required for ${what} (install kubectl 1.32) but was not found on PATH`);
  if (!available) console.warn(`SKIPPING ${what}: kubectl not found on PATH`);
  return available;
}
