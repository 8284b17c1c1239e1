import { execFile } from "node:child_process";
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
