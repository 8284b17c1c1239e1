import { createNftablesProxier, type IPFamily, type NftablesBackendOptions } from "@kubenode/netrules";
import type { Dataplane, DataplaneSyncResult } from "./dataplane.js";

/** The table kube-proxy's nftables mode owns, in family ip and ip6. */
export const NFTABLES_TABLE = "kube-proxy";

/** Options of {@link createNftablesDataplane}. */
export interface NftablesDataplaneOptions {
  families: readonly IPFamily[];
  backend: Omit<NftablesBackendOptions, "family" | "clusterCIDR" | "tableName"> & {
    clusterCIDRs?: Partial<Record<IPFamily, string>>;
  };
  netns?: string;
  conntrack?: boolean;
}

/** The nftables mode: table `kube-proxy` per family, incremental transactions between full ones. */
export function createNftablesDataplane(options: NftablesDataplaneOptions): Dataplane {
  const planes = options.families.map((family) => {
    const cidr = options.backend.clusterCIDRs?.[family];
    const { clusterCIDRs: _ignored, ...backend } = options.backend;
    return {
      family,
      nftFamily: family === "IPv4" ? ("ip" as const) : ("ip6" as const),
      proxier: createNftablesProxier({
        ...backend,
        family,
        tableName: NFTABLES_TABLE,
        ...(cidr ? { clusterCIDR: cidr } : {}),
        ...(options.netns !== undefined ? { netns: options.netns } : {}),
        ...(options.conntrack !== undefined ? { conntrack: options.conntrack } : {}),
      }),
    };
  });
  const sig = (signal: AbortSignal | undefined) => (signal ? { signal } : {});
  return {
    mode: "nftables",
    async rulesIntact(opts = {}) {
      for (const p of planes)
        if (!(await p.proxier.applier.tableExists(p.nftFamily, NFTABLES_TABLE, sig(opts.signal))))
          return false;
      return true;
    },
    async sync(model, { full, signal }): Promise<DataplaneSyncResult> {
      let lines = 0;
      let changed = 0;
      let anyFull = false;
      for (const p of planes) {
        const r = await p.proxier.sync(model, { full, ...sig(signal) });
        lines += r.lines;
        changed += r.changedServicePorts;
        anyFull ||= r.full;
      }
      return { full: anyFull, lines, changedServicePorts: changed, ruleCounts: {} };
    },
    async cleanup(opts = {}) {
      for (const p of planes) {
        if (await p.proxier.applier.tableExists(p.nftFamily, NFTABLES_TABLE, sig(opts.signal)))
          await p.proxier.applier.cleanup(p.nftFamily, NFTABLES_TABLE, sig(opts.signal));
      }
    },
  };
}
