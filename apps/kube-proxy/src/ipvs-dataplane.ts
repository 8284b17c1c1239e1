import { mkdir, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  buildIpvsState,
  type IPFamily,
  type IpvsOptions,
  ipsetRestoreText,
  ipvsadmRestoreText,
  type ProxyModel,
} from "@kubenode/netrules";
import type { Dataplane, DataplaneSyncResult } from "./dataplane.js";
import type { Logger } from "./logger.js";

/** Where IPVS mode writes what it generates, unless KUBENODE_PROXY_IPVS_DIR says otherwise. */
export const DEFAULT_IPVS_OUTPUT_DIR = join(tmpdir(), "kubenode-proxy-ipvs");

/** Options of {@link createIpvsDataplane}. */
export interface IpvsDataplaneOptions {
  families: readonly IPFamily[];
  backend: Omit<IpvsOptions, "family" | "clusterCIDR"> & { clusterCIDRs?: Partial<Record<IPFamily, string>> };
  /** Directory receiving the generated payloads. */
  outputDir: string;
  log: Logger;
}

/**
 * IPVS mode, generation only. It builds everything upstream's IPVS proxier programs (virtual and
 * real servers, kube-ipvs0 addresses, ipsets, helper iptables chains) and writes it per family as
 * `ipvsadm-restore`, `ipset restore` and `iptables-restore` input, replacing the files atomically
 * on every sync. Nothing reaches the kernel: the kernels kubenode is developed on have no IPVS
 * module, and upstream deprecated this mode in v1.35. Use the files to inspect or apply by hand.
 */
export function createIpvsDataplane(options: IpvsDataplaneOptions): Dataplane {
  const { outputDir, log } = options;
  const write = async (name: string, text: string) => {
    const tmp = join(outputDir, `.${name}.tmp`);
    await writeFile(tmp, text);
    await rename(tmp, join(outputDir, name));
  };
  return {
    mode: "ipvs",
    async sync(model: ProxyModel): Promise<DataplaneSyncResult> {
      await mkdir(outputDir, { recursive: true });
      let lines = 0;
      let virtualServers = 0;
      let ipsetEntries = 0;
      for (const family of options.families) {
        const clusterCIDR = options.backend.clusterCIDRs?.[family];
        const state = buildIpvsState(model, {
          ...options.backend,
          family,
          clusterCIDR,
        });
        const suffix = family === "IPv4" ? "ipv4" : "ipv6";
        const ipvsadm = ipvsadmRestoreText(state);
        const ipset = ipsetRestoreText(state);
        await write(`ipvsadm-${suffix}.restore`, ipvsadm);
        await write(`ipset-${suffix}.restore`, ipset);
        await write(`iptables-${suffix}.restore`, state.iptablesPayload);
        await write(`kube-ipvs0-${suffix}.addresses`, state.dummyAddresses.map((a) => `${a}\n`).join(""));
        lines += [ipvsadm, ipset, state.iptablesPayload].reduce((n, t) => n + t.split("\n").length - 1, 0);
        virtualServers += state.virtualServers.length;
        ipsetEntries += state.ipsets.reduce((n, s) => n + s.entries.length, 0);
      }
      log.info("ipvs mode generates only (no IPVS in this kernel): payloads written", {
        dir: outputDir,
        virtualServers,
        ipsetEntries,
      });
      return {
        full: true,
        // Nothing is installed in the kernel, so nothing can be flushed behind our back.
        recoveredFromFlush: false,
        lines,
        changedServicePorts: model.servicePorts.length,
        ruleCounts: { virtualServers, ipsetEntries },
      };
    },
    async cleanup() {
      await rm(outputDir, { recursive: true, force: true });
    },
  };
}
