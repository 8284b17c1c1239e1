import {
  createNftablesProxier,
  type IPFamily,
  type NftablesBackendOptions,
  type ProxierOptions,
} from "@kubenode/netrules";
import type { Dataplane, DataplaneSyncResult } from "./dataplane.js";
import { type Logger, withFields } from "./logger.js";
import { summarize } from "./proxier-reports.js";

/** The table kube-proxy's nftables mode owns, in family ip and ip6. */
export const NFTABLES_TABLE = "kube-proxy";

/** Options of {@link createNftablesDataplane}. */
export interface NftablesDataplaneOptions {
  families: readonly IPFamily[];
  backend: Omit<NftablesBackendOptions, "family" | "clusterCIDR" | "tableName"> & {
    clusterCIDRs?: Partial<Record<IPFamily, string>>;
  };
  /** netns, timeouts, conntrack cleanup, flush-check interval and clock, passed to netrules. */
  proxier?: Omit<ProxierOptions, "logger">;
  log: Logger;
}

/**
 * The nftables mode: netrules' nftables proxier, one per family (table `kube-proxy`; full syncs
 * rewrite it in place, keeping ClientIP affinity entries, as upstream).
 */
export function createNftablesDataplane(options: NftablesDataplaneOptions): Dataplane {
  const { clusterCIDRs, ...backend } = options.backend;
  const logger = withFields(options.log, { mode: "nftables" });
  const proxiers = options.families.map((family) => {
    const cidr = clusterCIDRs?.[family];
    return createNftablesProxier({
      ...backend,
      family,
      tableName: NFTABLES_TABLE,
      ...(cidr ? { clusterCIDR: cidr } : {}),
      ...options.proxier,
      logger,
    });
  });
  const sig = (signal: AbortSignal | undefined) => (signal ? { signal } : {});
  return {
    mode: "nftables",
    async sync(model, { full, signal }): Promise<DataplaneSyncResult> {
      const reports = [];
      for (const p of proxiers) reports.push(await p.sync(model, { full, ...sig(signal) }));
      return { ...summarize(reports, options.log), ruleCounts: {} };
    },
    async cleanup(opts = {}) {
      for (const p of proxiers) {
        const family = p.backend.family === "IPv4" ? "ip" : "ip6";
        if (await p.applier.tableExists(family, NFTABLES_TABLE, sig(opts.signal)))
          await p.applier.cleanup(family, NFTABLES_TABLE, sig(opts.signal));
      }
    },
  };
}
