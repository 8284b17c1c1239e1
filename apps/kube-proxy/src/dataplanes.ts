import type { Clock } from "@kubenode/kube";
import type { IPFamily } from "@kubenode/netrules";
import type { ResolvedConfig } from "./config.js";
import type { Dataplane } from "./dataplane.js";
import { createIptablesDataplane } from "./iptables-dataplane.js";
import { createIpvsDataplane, DEFAULT_IPVS_OUTPUT_DIR } from "./ipvs-dataplane.js";
import type { Logger } from "./logger.js";
import { createNftablesDataplane } from "./nftables-dataplane.js";

/** Feature gate selecting @kubenode/netrules' compact nftables layout instead of upstream's. */
export const COMPACT_NFTABLES_GATE = "KubenodeNFTablesCompactLayout";

/** What every mode needs to know about the node. */
export interface DataplaneContext {
  families: readonly IPFamily[];
  nodeIPs: readonly string[];
  /**
   * The addresses of this host's interfaces (loopback included): with --nodeport-addresses CIDRs,
   * NodePorts are accepted on those inside a CIDR, as upstream does. Default: `nodeIPs`.
   */
  hostAddresses?: readonly string[];
  log: Logger;
  /** iptables mode: the nfacct counters that exist (see netrules' `nfacctCounters`). */
  nfacctCounters?: readonly string[];
  /** Tests: run the rule tools inside this named network namespace. */
  netns?: string;
  /**
   * How often the iptables/nftables modes check that their rules were not flushed (the canary),
   * in ms: kube-proxy's syncPeriod. Default netrules' (30 000).
   */
  flushCheckIntervalMs?: number;
  /** Time of those checks and of the rule tools' timeouts. Default: the wall clock. */
  clock?: Clock;
  /** IPVS mode: where the generated payloads go (default $KUBENODE_PROXY_IPVS_DIR, else a temp dir). */
  ipvsOutputDir?: string;
}

function cidrsByFamily(cidrs: readonly string[]): Partial<Record<IPFamily, string>> {
  const out: Partial<Record<IPFamily, string>> = {};
  for (const c of cidrs) out[c.includes(":") ? "IPv6" : "IPv4"] = c;
  return out;
}

/**
 * The --nodeport-addresses CIDRs. Empty means every local address, except in nftables mode,
 * where upstream's default is "primary" (kube-proxy's nftables proxier never accepts NodePorts on
 * every local address by default).
 */
export function nodePortAddresses(config: ResolvedConfig, nodeIPs: readonly string[]): string[] {
  const configured = config.config.nodePortAddresses;
  const list = configured.length === 0 && config.mode === "nftables" ? ["primary"] : configured;
  if (!list.includes("primary")) return [...list];
  // "primary": only the node's primary IP of each family.
  const v4 = nodeIPs.find((ip) => !ip.includes(":"));
  const v6 = nodeIPs.find((ip) => ip.includes(":"));
  return [...(v4 ? [`${v4}/32`] : []), ...(v6 ? [`${v6}/128`] : [])];
}

function ipvsOutputDir(ctx: DataplaneContext): string {
  return ctx.ipvsOutputDir ?? process.env.KUBENODE_PROXY_IPVS_DIR ?? DEFAULT_IPVS_OUTPUT_DIR;
}

/** The options every netrules proxier of this process gets. */
function proxierOptions(ctx: DataplaneContext) {
  return {
    netns: ctx.netns,
    flushCheckIntervalMs: ctx.flushCheckIntervalMs,
    clock: ctx.clock,
  };
}

/** Creates the dataplane of the configured mode. */
export function createDataplane(config: ResolvedConfig, ctx: DataplaneContext): Dataplane {
  const common = { families: ctx.families, proxier: proxierOptions(ctx) };
  const clusterCIDRs = cidrsByFamily(config.clusterCIDRs);
  switch (config.mode) {
    case "iptables":
      return createIptablesDataplane({
        ...common,
        log: ctx.log,
        backend: {
          masqueradeBit: config.masqueradeBit,
          masqueradeAll: config.masqueradeAll,
          clusterCIDRs,
          nodeIPs: ctx.nodeIPs,
          hostAddresses: ctx.hostAddresses,
          nodePortAddresses: nodePortAddresses(config, ctx.nodeIPs),
          localhostNodePorts: config.config.iptables.localhostNodePorts,
          nfacctCounters: ctx.nfacctCounters,
        },
      });
    case "nftables":
      return createNftablesDataplane({
        ...common,
        log: ctx.log,
        backend: {
          // kubenode feature gate: netrules' compact layout (same behaviour; shared chains and a named
          // endpoint map instead of chains per service and endpoint).
          layout: config.config.featureGates[COMPACT_NFTABLES_GATE] ? "compact" : "upstream",
          masqueradeBit: config.masqueradeBit,
          masqueradeAll: config.masqueradeAll,
          clusterCIDRs,
          nodeIPs: ctx.nodeIPs,
          hostAddresses: ctx.hostAddresses,
          nodePortAddresses: nodePortAddresses(config, ctx.nodeIPs),
        },
      });
    case "ipvs":
      // Generation only: these kernels have no IPVS module (see ipvs-dataplane.ts).
      return createIpvsDataplane({
        families: ctx.families,
        log: ctx.log,
        outputDir: ipvsOutputDir(ctx),
        backend: {
          ...(config.config.ipvs.scheduler ? { scheduler: config.config.ipvs.scheduler } : {}),
          masqueradeBit: config.masqueradeBit,
          masqueradeAll: config.masqueradeAll,
          clusterCIDRs,
          nodeIPs: ctx.nodeIPs,
        },
      });
  }
}

/**
 * Removes everything every mode installs (upstream --cleanup cleans all modes, so switching
 * modes leaves nothing behind). Missing tools or families are skipped.
 */
export async function cleanupAll(ctx: DataplaneContext): Promise<string[]> {
  const done: string[] = [];
  const proxier = proxierOptions(ctx);
  const planes: [string, Dataplane][] = [
    ["iptables", createIptablesDataplane({ families: ctx.families, backend: {}, log: ctx.log, proxier })],
    ["nftables", createNftablesDataplane({ families: ["IPv4", "IPv6"], backend: {}, log: ctx.log, proxier })],
    [
      "ipvs",
      createIpvsDataplane({
        families: ctx.families,
        backend: {},
        log: ctx.log,
        outputDir: ipvsOutputDir(ctx),
      }),
    ],
  ];
  let failure: unknown;
  for (const [name, plane] of planes) {
    try {
      await plane.cleanup();
      done.push(name);
    } catch (err) {
      if ((err as { code?: unknown }).code === "CommandNotFound") {
        // Like upstream: a mode whose tools are not installed has nothing to clean up.
        ctx.log.info("Skipping cleanup of a mode whose tools are missing", {
          mode: name,
          reason: (err as Error).message,
        });
        continue;
      }
      ctx.log.error("Cleanup failed", err, { mode: name });
      failure ??= err;
    }
  }
  if (failure !== undefined) throw failure;
  return done;
}
