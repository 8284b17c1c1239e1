import type { ProxierSyncReport } from "@kubenode/netrules";
import type { DataplaneSyncResult } from "./dataplane.js";
import type { Logger } from "./logger.js";

/** One dataplane result from the per-family reports of netrules' proxiers. */
export function summarize(
  reports: readonly ProxierSyncReport[],
  log: Logger,
): Omit<DataplaneSyncResult, "ruleCounts"> {
  let flows = 0;
  const out = { full: false, recoveredFromFlush: false, lines: 0, changedServicePorts: 0, applyMs: 0 };
  for (const r of reports) {
    out.full ||= r.full;
    out.recoveredFromFlush ||= r.recoveredFromFlush;
    out.lines += r.lines;
    out.changedServicePorts += r.changedServicePorts;
    out.applyMs += r.applyMs;
    flows += r.conntrackFlowsDeleted;
  }
  if (flows > 0) log.v(2, "Deleted stale conntrack entries", { flows });
  return { ...out, applyMs: Math.round(out.applyMs) };
}
