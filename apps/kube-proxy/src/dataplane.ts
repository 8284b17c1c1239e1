import type { ProxyModel } from "@kubenode/netrules";
import type { ProxyMode } from "./config.js";

/** What one dataplane sync did. */
export interface DataplaneSyncResult {
  /** Every rule was rewritten (asked for, or after a flushed ruleset). */
  full: boolean;
  /** The rules had been flushed by someone else (the canary was gone) and were all rewritten. */
  recoveredFromFlush: boolean;
  /** Lines of the payload(s) applied. */
  lines: number;
  /** Service ports whose rules were rewritten. */
  changedServicePorts: number;
  /** Time spent in the rule tools (iptables-restore, nft), for logs. */
  applyMs?: number;
  /** Rule counts by label (iptables: by table), for metrics. */
  ruleCounts: Record<string, number>;
}

/**
 * The kernel side of the proxy: turns a model into rules and applies them, noticing a flushed
 * ruleset on its own (once per syncPeriod). One implementation per mode; the proxier owns timing,
 * retries and full-sync decisions.
 */
export interface Dataplane {
  readonly mode: ProxyMode;
  /** Programs `model`; `full` rewrites every rule (after start, a failure, or hourly). */
  sync(model: ProxyModel, options: { full: boolean; signal?: AbortSignal }): Promise<DataplaneSyncResult>;
  /** Removes every rule, chain, table and set this mode installs. */
  cleanup(options?: { signal?: AbortSignal }): Promise<void>;
}
