import { execFile, spawn } from "node:child_process";
import { promisify } from "node:util";

const execFileAsync = promisify(execFile);

/**
 * Runs kubectl, the independent real client, against a kubeconfig. Asynchronous on purpose: the
 * API server simulator may live in this very process and must keep answering meanwhile.
 */
export async function kubectl(kubeconfig: string, args: readonly string[], input?: string): Promise<string> {
  const child = execFileAsync("kubectl", ["--kubeconfig", kubeconfig, ...args], { timeout: 60_000 });
  if (input !== undefined) child.child.stdin?.end(input);
  const { stdout } = await child;
  return stdout;
}

/** A kubectl that keeps running (port-forward, logs -f), with what it printed so far. */
export interface BackgroundKubectl {
  stdout(): string;
  stderr(): string;
  /** True once it exited. */
  exited(): boolean;
  /** SIGINT (how a user ends it), SIGKILL if it is still there after 5 s; resolves once it is gone. */
  stop(): Promise<void>;
}

/** Starts kubectl with `args` against a kubeconfig, collecting its output. */
export function kubectlBackground(kubeconfig: string, args: readonly string[]): BackgroundKubectl {
  const child = spawn("kubectl", ["--kubeconfig", kubeconfig, ...args], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => {
    out += d.toString();
  });
  child.stderr.on("data", (d: Buffer) => {
    err += d.toString();
  });
  let done = false;
  const gone = new Promise<void>((resolve) => {
    child.once("close", () => {
      done = true;
      resolve();
    });
    child.once("error", (e) => {
      err += `kubectl: ${e.message}`;
      done = true;
      resolve();
    });
  });
  const exited = () => done || child.exitCode !== null || child.signalCode !== null;
  return {
    stdout: () => out,
    stderr: () => err,
    exited,
    async stop() {
      if (!exited()) {
        child.kill("SIGINT");
        const timer = setTimeout(() => child.kill("SIGKILL"), 5_000);
        await gone;
        clearTimeout(timer);
      }
    },
  };
}
