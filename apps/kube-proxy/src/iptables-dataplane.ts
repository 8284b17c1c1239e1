import {
  createConntrackCleaner,
  createIptablesApplier,
  createIptablesBackend,
  type IPFamily,
  type IptablesApplier,
  type IptablesBackendOptions,
  type ProxyModel,
  staleConntrackFilters,
} from "@kubenode/netrules";
import type { Dataplane, DataplaneSyncResult } from "./dataplane.js";
import type { Logger } from "./logger.js";

/** Options of {@link createIptablesDataplane}. */
export interface IptablesDataplaneOptions {
  /** IP families to program (iptables for IPv4, ip6tables for IPv6). */
  families: readonly IPFamily[];
  backend: Omit<IptablesBackendOptions, "family" | "clusterCIDR"> & {
    /** Cluster CIDR by family. */
    clusterCIDRs?: Partial<Record<IPFamily, string>>;
  };
  /** Run the tools inside this named network namespace (tests); default the current one. */
  netns?: string;
  /** Delete stale UDP/SCTP conntrack entries after each sync (default true). */
  conntrack?: boolean;
  log: Logger;
}

/** Counts `-A` rules per chain so the rule-count metric stays exact across partial payloads. */
function createRuleCounter() {
  const byChain = new Map<string, { table: string; n: number }>();
  return {
    /** Counts the rules of a payload given as chunks that end at line boundaries. */
    apply(chunks: readonly string[]) {
      let table = "";
      const touched = new Map<string, number>();
      for (const chunk of chunks)
        for (const line of chunk.split("\n")) {
          if (line.startsWith("*")) table = line.slice(1);
          else if (line.startsWith(":")) touched.set(`${table}/${line.slice(1).split(" ")[0]}`, 0);
          else if (line.startsWith("-A ")) {
            const k = `${table}/${line.slice(3, line.indexOf(" ", 3))}`;
            touched.set(k, (touched.get(k) ?? 0) + 1);
          } else if (line.startsWith("-X ")) {
            byChain.delete(`${table}/${line.slice(3).trim()}`);
            touched.delete(`${table}/${line.slice(3).trim()}`);
          }
        }
      for (const [k, n] of touched) byChain.set(k, { table: k.split("/")[0]!, n });
    },
    totals(): Record<string, number> {
      const out: Record<string, number> = {};
      for (const { table, n } of byChain.values()) out[table] = (out[table] ?? 0) + n;
      return out;
    },
    reset() {
      byChain.clear();
    },
  };
}

interface FamilyPlane {
  family: IPFamily;
  backend: ReturnType<typeof createIptablesBackend>;
  applier: IptablesApplier;
  counter: ReturnType<typeof createRuleCounter>;
  previous: ProxyModel | undefined;
}

/** The iptables mode: one backend + applier per family, partial restores between full ones. */
export function createIptablesDataplane(options: IptablesDataplaneOptions): Dataplane {
  const netns = options.netns !== undefined ? { netns: options.netns } : {};
  const cleaner = createConntrackCleaner(netns);
  const planes: FamilyPlane[] = options.families.map((family) => {
    const cidr = options.backend.clusterCIDRs?.[family];
    return {
      family,
      backend: createIptablesBackend({ ...options.backend, family, ...(cidr ? { clusterCIDR: cidr } : {}) }),
      applier: createIptablesApplier({ family, ...netns }),
      counter: createRuleCounter(),
      previous: undefined,
    };
  });
  const sig = (signal: AbortSignal | undefined) => (signal ? { signal } : {});

  return {
    mode: "iptables",
    async rulesIntact(opts = {}) {
      for (const p of planes) if (!(await p.applier.canaryExists(sig(opts.signal)))) return false;
      return true;
    },
    async sync(model, { full, signal }): Promise<DataplaneSyncResult> {
      let lines = 0;
      let changed = 0;
      let anyFull = false;
      const ruleCounts: Record<string, number> = {};
      for (const p of planes) {
        if (full) await p.applier.ensureBaseRules(sig(signal));
        const existing = full ? await p.applier.listNatChains(sig(signal)) : undefined;
        const result = p.backend.sync(model, { full, ...(existing ? { existingNatChains: existing } : {}) });
        try {
          await p.applier.apply(result, sig(signal));
        } catch (err) {
          p.backend.invalidate();
          throw err;
        }
        if (result.full) p.counter.reset();
        p.counter.apply(result.chunks);
        for (const [table, n] of Object.entries(p.counter.totals()))
          ruleCounts[table] = (ruleCounts[table] ?? 0) + n;
        lines += result.lines;
        changed += result.changedServicePorts;
        anyFull ||= result.full;
        if (options.conntrack !== false) {
          const filters = staleConntrackFilters(p.previous, model).filter((f) => f.family === p.family);
          if (filters.length > 0) {
            try {
              const n = await cleaner.clear(filters, sig(signal));
              options.log.v(2, "Deleted stale conntrack entries", { family: p.family, flows: n });
            } catch (err) {
              // Mirrors kube-proxy: a conntrack failure is logged, rules stay programmed.
              options.log.error("Failed to delete stale conntrack entries", err, { family: p.family });
            }
          }
        }
        p.previous = model;
      }
      return { full: anyFull, lines, changedServicePorts: changed, ruleCounts };
    },
    async cleanup(opts = {}) {
      for (const p of planes) await p.applier.cleanup(sig(opts.signal));
    },
  };
}
