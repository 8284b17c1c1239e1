import type { ProxyModel } from "@kubenode/netrules";
import type { ProxyMode } from "./config.js";

/** What one dataplane sync did. */
export interface DataplaneSyncResult {
  full: boolean;
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
 * The kernel side of the proxy: turns a model into rules and applies them. One implementation
 * per mode; the proxier owns timing, retries and flush detection.
 */
export interface Dataplane {
  readonly mode: ProxyMode;
  /** Programs `model`; `full` rewrites every rule (after start, a failure or a flushed ruleset). */
  sync(model: ProxyModel, options: { full: boolean; signal?: AbortSignal }): Promise<DataplaneSyncResult>;
  /** False when rules this process installed have been flushed by someone else (the canary is gone). */
  rulesIntact(options?: { signal?: AbortSignal }): Promise<boolean>;
  /** Removes every rule, chain, table and set this mode installs. */
  cleanup(options?: { signal?: AbortSignal }): Promise<void>;
}
