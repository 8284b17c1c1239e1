// Container lifecycle hooks postStart and preStop (upstream pkg/kubelet/lifecycle/handlers.go and
// kuberuntime_container.go executePreStopHook): exec, httpGet and sleep handlers.
import type { Clock } from "@kubenode/kube";
import type { LifecycleHandler, Pod } from "../api.js";
import { podDesc } from "../api.js";
import { ExecTimeoutError } from "../runtime/types.js";
import { type HandlerTarget, runHttpGet } from "./handlers.js";

/** What a hook run left: `error` set when it failed, with upstream's message. */
export interface HookOutcome {
  error?: string;
}

/**
 * Runs one lifecycle handler to completion. `timeoutMs` bounds exec and httpGet (0: no bound, as
 * upstream runs postStart); `signal` ends a sleep early.
 */
export async function runHook(
  pod: Pod,
  target: HandlerTarget,
  handler: LifecycleHandler,
  clock: Clock,
  options: { timeoutMs?: number; signal?: AbortSignal } = {},
): Promise<HookOutcome> {
  const name = target.container.name;
  const podName = podDesc(pod);
  if (handler.exec) {
    const command = handler.exec.command ?? [];
    const shown = `[${command.join(" ")}]`;
    if (!target.runtime.execSync)
      return {
        error: `Exec lifecycle hook (${shown}) for Container "${name}" in Pod "${podName}" failed - error: the container runtime does not support exec, message: ""`,
      };
    try {
      const r = await target.runtime.execSync(target.containerId, command, options.timeoutMs ?? 0);
      if (r.exitCode === 0) return {};
      // remote_runtime.go ExecSync: "command '<cmd>' exited with <code>: <stderr>".
      const err = `command '${command.join(" ")}' exited with ${r.exitCode}: ${r.stderr}`;
      return {
        error: `Exec lifecycle hook (${shown}) for Container "${name}" in Pod "${podName}" failed - error: ${err}, message: ${JSON.stringify(r.output)}`,
      };
    } catch (err) {
      const text = err instanceof ExecTimeoutError || err instanceof Error ? err.message : String(err);
      return {
        error: `Exec lifecycle hook (${shown}) for Container "${name}" in Pod "${podName}" failed - error: ${text}, message: ""`,
      };
    }
  }
  if (handler.httpGet) {
    // Upstream's hook client fails only when no response arrives; any status code counts as run.
    let error: string | undefined;
    try {
      const r = await runHttpGet(target, handler.httpGet, options.timeoutMs || 2 ** 31 - 1);
      if (r.result === "failure" && !r.output.startsWith("HTTP probe failed")) error = r.output;
    } catch (err) {
      error = err instanceof Error ? err.message : String(err);
    }
    return error === undefined
      ? {}
      : {
          error: `HTTP lifecycle hook (${handler.httpGet.path ?? ""}) for Container "${name}" in Pod "${podName}" failed - error: ${error}`,
        };
  }
  if (handler.sleep) {
    await clock.sleep(Math.max(0, handler.sleep.seconds) * 1000, options.signal).catch(() => undefined);
    return {};
  }
  if (handler.tcpSocket) {
    // Deprecated for hooks and never run by upstream (kept for compatibility): a no-op.
    return {};
  }
  return { error: `Lifecycle hook for Container "${name}" in Pod "${podName}" has no handler` };
}
