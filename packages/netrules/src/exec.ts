import { spawn } from "node:child_process";
import type { Writable } from "node:stream";
import { type Clock, createRealClock } from "@kubenode/kube";
import { NetrulesError } from "./errors.js";

/** Where and how to run the rule tools. */
export interface CommandOptions {
  /** Run inside this named network namespace (`ip netns exec <name> ...`). */
  netns?: string | undefined;
  signal?: AbortSignal | undefined;
  /** Kill the tool after this long. Default 120 000. */
  timeoutMs?: number | undefined;
  /** Runs the `timeoutMs` timer. Default: the wall clock. */
  clock?: Clock | undefined;
}

/** Result of one tool run. */
export interface CommandResult {
  stdout: string;
  stderr: string;
  code: number;
}

/** Builds the argv that runs `argv` inside `netns` (or as is). */
export function inNetns(argv: readonly string[], netns: string | undefined): string[] {
  return netns ? ["ip", "netns", "exec", netns, ...argv] : [...argv];
}

/**
 * Runs a tool with an argument array, `input` on stdin (a string, or pieces written one after the
 * other), never through a shell. Resolves with its exit code and output (a non-zero exit is not
 * an error here: callers interpret it).
 */
export function runCommand(
  argv: readonly string[],
  input: string | readonly string[] | undefined,
  options: CommandOptions = {},
): Promise<CommandResult> {
  const full = inNetns(argv, options.netns);
  const clock = options.clock ?? createRealClock();
  return new Promise((resolve, reject) => {
    if (options.signal?.aborted) {
      reject(new NetrulesError("Aborted", `${argv[0]} not started: aborted`));
      return;
    }
    const child = spawn(full[0]!, full.slice(1), { stdio: ["pipe", "pipe", "pipe"] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on("data", (d: Buffer) => out.push(d));
    child.stderr.on("data", (d: Buffer) => err.push(d));
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clock.clearTimeout(timer);
      options.signal?.removeEventListener("abort", onAbort);
      fn();
    };
    const timeoutMs = options.timeoutMs ?? 120_000;
    const timer = clock.setTimeout(() => {
      child.kill("SIGKILL");
      finish(() => reject(new NetrulesError("Timeout", `${argv[0]} did not finish within ${timeoutMs} ms`)));
    }, timeoutMs);
    const onAbort = () => {
      child.kill("SIGKILL");
      finish(() => reject(new NetrulesError("Aborted", `${argv[0]} aborted`)));
    };
    options.signal?.addEventListener("abort", onAbort, { once: true });
    child.on("error", (e: NodeJS.ErrnoException) => {
      finish(() =>
        reject(
          e.code === "ENOENT"
            ? new NetrulesError("CommandNotFound", `${full[0]} not found on PATH`, { cause: e })
            : NetrulesError.from(e),
        ),
      );
    });
    child.on("close", (code) => {
      finish(() =>
        resolve({
          stdout: Buffer.concat(out).toString("utf8"),
          stderr: Buffer.concat(err).toString("utf8"),
          code: code ?? -1,
        }),
      );
    });
    child.stdin.on("error", () => {
      // the tool exited before reading all input; its exit status tells the story
    });
    if (typeof input === "string" || input === undefined) child.stdin.end(input ?? "");
    else void writeChunks(child.stdin, input);
  });
}

/**
 * Writes `chunks` one at a time, waiting for the pipe to drain in between, so only one chunk at a
 * time is held as bytes (a 10k-service payload is 30-40 MB). Stops when the tool has gone away.
 */
async function writeChunks(stdin: Writable, chunks: readonly string[]): Promise<void> {
  for (const chunk of chunks) {
    if (stdin.destroyed) return;
    if (stdin.write(chunk)) continue;
    await new Promise<void>((resolve) => {
      const done = () => {
        stdin.off("drain", done);
        stdin.off("close", done);
        resolve();
      };
      stdin.on("drain", done);
      stdin.on("close", done);
    });
  }
  if (!stdin.destroyed) stdin.end();
}

/** Extracts the failing line number from iptables-restore / nft error output. */
export function failingLine(stderr: string): number | undefined {
  const m =
    /Error occurred at line: (\d+)/.exec(stderr) ??
    /line (\d+) failed/.exec(stderr) ??
    /^(?:\/dev\/stdin|-):(\d+):/m.exec(stderr);
  return m ? Number(m[1]) : undefined;
}

/** Throws ApplyFailed naming the tool, its message and the payload line it rejected. */
export function applyError(tool: string, result: CommandResult, payload: string | undefined): NetrulesError {
  const line = failingLine(result.stderr);
  const lineText = line !== undefined && payload !== undefined ? payload.split("\n")[line - 1] : undefined;
  const msg = result.stderr.trim().split("\n").slice(0, 6).join("\n");
  return new NetrulesError(
    "ApplyFailed",
    `${tool} exited with ${result.code}: ${msg}${lineText !== undefined ? `\n  at line ${line}: ${lineText}` : ""}`,
    { ...(line !== undefined ? { line } : {}), ...(lineText !== undefined ? { lineText } : {}) },
  );
}
