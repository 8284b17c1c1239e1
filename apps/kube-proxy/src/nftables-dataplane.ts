import {
  createConntrackCleaner,
  createNftablesApplier,
  createNftablesBackend,
  type IPFamily,
  type NftablesBackendOptions,
  type ProxyModel,
  staleConntrackFilters,
} from "@kubenode/netrules";
import type { Dataplane, DataplaneSyncResult } from "./dataplane.js";
import { ProxyError } from "./errors.js";
import { runWithInput } from "./host.js";
import type { Logger } from "./logger.js";

/** The table kube-proxy's nftables mode owns, in family ip and ip6. */
export const NFTABLES_TABLE = "kube-proxy";

const PROBE_CHAIN = "kubenode-canary-probe";

/** Options of {@link createNftablesDataplane}. */
export interface NftablesDataplaneOptions {
  families: readonly IPFamily[];
  backend: Omit<NftablesBackendOptions, "family" | "clusterCIDR" | "tableName"> & {
    clusterCIDRs?: Partial<Record<IPFamily, string>>;
  };
  netns?: string;
  conntrack?: boolean;
  log: Logger;
}

/**
 * The nftables mode: table `kube-proxy` per family, incremental transactions between full ones.
 * Backend and applier are still driven directly rather than through netrules' NftablesProxier
 * (which now probes once per syncPeriod with the same cheap check): this app logs conntrack
 * failures and carries on, as upstream does, while the proxier fails the sync; moving onto the
 * proxier waits for a shared Logger it can report through.
 */
export function createNftablesDataplane(options: NftablesDataplaneOptions): Dataplane {
  const netns = options.netns !== undefined ? { netns: options.netns } : {};
  const applier = createNftablesApplier(netns);
  const cleaner = createConntrackCleaner(netns);
  const { clusterCIDRs, ...backendOptions } = options.backend;
  const planes = options.families.map((family) => {
    const cidr = clusterCIDRs?.[family];
    return {
      family,
      nftFamily: family === "IPv4" ? ("ip" as const) : ("ip6" as const),
      backend: createNftablesBackend({
        ...backendOptions,
        family,
        tableName: NFTABLES_TABLE,
        ...(cidr ? { clusterCIDR: cidr } : {}),
      }),
      previous: undefined as ProxyModel | undefined,
      /** The last in-place full sync failed: the next full one recreates the table. */
      inPlaceFailed: false,
    };
  });
  const sig = (signal: AbortSignal | undefined) => (signal ? { signal } : {});
  return {
    mode: "nftables",
    async rulesIntact() {
      for (const p of planes) {
        // Adding and deleting a scratch chain fails with ENOENT once the table is gone; it needs
        // no set or rule cache, so it stays cheap on huge tables.
        const probe = `add chain ${p.nftFamily} ${NFTABLES_TABLE} ${PROBE_CHAIN}\ndelete chain ${p.nftFamily} ${NFTABLES_TABLE} ${PROBE_CHAIN}\n`;
        const argv = options.netns
          ? ["ip", "netns", "exec", options.netns, "nft", "-f", "-"]
          : ["nft", "-f", "-"];
        const r = await runWithInput(argv, probe);
        if (r.code === 0) continue;
        if (/No such file or directory/.test(r.stderr)) return false;
        throw new ProxyError("SyncFailed", `nft table check failed: ${r.stderr.trim()}`);
      }
      return true;
    },
    async sync(model, { full, signal }): Promise<DataplaneSyncResult> {
      let lines = 0;
      let changed = 0;
      let anyFull = false;
      let applyMs = 0;
      for (const p of planes) {
        // Full syncs rewrite the table in place (as upstream), keeping ClientIP affinity entries.
        const existing =
          full && !p.inPlaceFailed
            ? await applier.listTable(p.nftFamily, NFTABLES_TABLE, sig(signal))
            : undefined;
        const result = p.backend.sync(model, { full, existing });
        const t0 = performance.now();
        try {
          await applier.apply(result, sig(signal));
          if (full) p.inPlaceFailed = false;
        } catch (err) {
          if (existing !== undefined) p.inPlaceFailed = true;
          p.backend.invalidate();
          throw err;
        }
        applyMs += performance.now() - t0;
        lines += result.lines;
        changed += result.changedServicePorts;
        anyFull ||= result.full;
        if (options.conntrack !== false) {
          const filters = staleConntrackFilters(p.previous, model).filter((f) => f.family === p.family);
          if (filters.length > 0) {
            try {
              await cleaner.clear(filters, sig(signal));
            } catch (err) {
              options.log.error("Failed to delete stale conntrack entries", err, { family: p.family });
            }
          }
        }
        p.previous = model;
      }
      return {
        full: anyFull,
        lines,
        changedServicePorts: changed,
        applyMs: Math.round(applyMs),
        ruleCounts: {},
      };
    },
    async cleanup(opts = {}) {
      for (const p of planes) {
        if (await applier.tableExists(p.nftFamily, NFTABLES_TABLE, sig(opts.signal)))
          await applier.cleanup(p.nftFamily, NFTABLES_TABLE, sig(opts.signal));
      }
    },
  };
}
