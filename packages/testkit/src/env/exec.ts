import { type ChildProcess, spawn } from "node:child_process";
import { TestkitError } from "./errors.js";

export interface RunOptions {
  /** Written to the command's stdin, then stdin is closed. */
  input?: string | Buffer | undefined;
  /** Kill the command (SIGKILL) after this long. Default 60 s. */
  timeoutMs?: number | undefined;
  env?: NodeJS.ProcessEnv | undefined;
  cwd?: string | undefined;
}

export interface RunResult {
  stdout: string;
  stderr: string;
}

/**
 * Runs a command from an argument array (never a shell) and resolves with its output, or rejects
 * with a TestkitError naming the command and carrying its stderr.
 */
export function run(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const [cmd, ...args] = argv;
  if (cmd === undefined) return Promise.reject(new TestkitError("InvalidArgument", "empty command"));
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, {
      stdio: ["pipe", "pipe", "pipe"],
      env: options.env ?? process.env,
      cwd: options.cwd,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (b: Buffer) => out.push(b));
    child.stderr.on("data", (b: Buffer) => err.push(b));
    const timer = setTimeout(() => child.kill("SIGKILL"), options.timeoutMs ?? 60_000);
    child.on("error", (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const code = e.code === "ENOENT" ? "MissingComponent" : "CommandFailed";
      reject(new TestkitError(code, `${cmd}: ${e.message}`, { cause: e }));
    });
    child.on("close", (status, signal) => {
      clearTimeout(timer);
      const stdout = Buffer.concat(out).toString("utf8");
      const stderr = Buffer.concat(err).toString("utf8");
      if (status === 0) resolve({ stdout, stderr });
      else {
        const why = signal ? `was killed by ${signal}` : `exited ${status}`;
        const detail = (stderr || stdout).trim();
        reject(new TestkitError("CommandFailed", `${argv.join(" ")} ${why}${detail ? `: ${detail}` : ""}`));
      }
    });
    child.stdin.on("error", () => {
      // The command may exit before reading its input; its exit status tells what happened.
    });
    child.stdin.end(options.input ?? "");
  });
}

/** Resolves when the child has exited (immediately if it already has). */
export function exited(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => child.once("exit", () => resolve()));
}

/** SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function terminate(child: ChildProcess, graceMs = 5_000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), graceMs);
  await exited(child);
  clearTimeout(timer);
}

/** Polls `check` until it returns a value other than undefined, or throws a Timeout naming `what`. */
export async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined> | T | undefined,
  { timeoutMs = 30_000, intervalMs = 50 }: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await check();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > deadline) {
      const why = last instanceof Error ? `: ${last.message}` : "";
      throw new TestkitError("Timeout", `${what} not ready after ${timeoutMs} ms${why}`, { cause: last });
    }
    await new Promise((r) => setTimeout(r, intervalMs));
  }
}
