import {
  createIptablesProxier,
  type IPFamily,
  type IptablesBackendOptions,
  type ProxierOptions,
} from "@kubenode/netrules";
import type { Dataplane, DataplaneSyncResult } from "./dataplane.js";
import { type Logger, withFields } from "./logger.js";
import { summarize } from "./proxier-reports.js";

/** Options of {@link createIptablesDataplane}. */
export interface IptablesDataplaneOptions {
  /** IP families to program (iptables for IPv4, ip6tables for IPv6). */
  families: readonly IPFamily[];
  backend: Omit<IptablesBackendOptions, "family" | "clusterCIDR"> & {
    /** Cluster CIDR by family. */
    clusterCIDRs?: Partial<Record<IPFamily, string>>;
  };
  /** netns, timeouts, conntrack cleanup, flush-check interval and clock, passed to netrules. */
  proxier?: Omit<ProxierOptions, "logger">;
  log: Logger;
}

/** The iptables mode: netrules' iptables proxier, one per family. */
export function createIptablesDataplane(options: IptablesDataplaneOptions): Dataplane {
  const { clusterCIDRs, ...backend } = options.backend;
  const logger = withFields(options.log, { mode: "iptables" });
  const proxiers = options.families.map((family) => {
    const cidr = clusterCIDRs?.[family];
    return createIptablesProxier({
      ...backend,
      family,
      ...(cidr ? { clusterCIDR: cidr } : {}),
      ...options.proxier,
      logger,
    });
  });
  const sig = (signal: AbortSignal | undefined) => (signal ? { signal } : {});
  return {
    mode: "iptables",
    async sync(model, { full, signal }): Promise<DataplaneSyncResult> {
      const reports = [];
      const ruleCounts: Record<string, number> = {};
      for (const p of proxiers) {
        reports.push(await p.sync(model, { full, ...sig(signal) }));
        for (const [table, n] of Object.entries(p.ruleCounts()))
          ruleCounts[table] = (ruleCounts[table] ?? 0) + n;
      }
      return { ...summarize(reports, options.log), ruleCounts };
    },
    async cleanup(opts = {}) {
      for (const p of proxiers) await p.applier.cleanup(sig(opts.signal));
    },
  };
}
