import { applyError, type CommandOptions, runCommand } from "./exec.js";
import type { ProxyModel } from "./model.js";
import {
  createNftablesBackend,
  type NftablesBackend,
  type NftablesBackendOptions,
  type NftablesSyncResult,
} from "./nftables.js";
import { createProxierSync, type ProxierOptions, type ProxierSyncReport } from "./proxier-loop.js";

/** An empty chain kept in our table: adding it again is how the applier checks the table is still there. */
export const NFT_CANARY_CHAIN = "canary";

/** Options of {@link createNftablesApplier}. */
export interface NftablesApplierOptions {
  /** Apply inside this named network namespace. */
  netns?: string;
  timeoutMs?: number;
}

/** Runs `nft` in the host or a network namespace. */
export interface NftablesApplier {
  /** Feeds a transaction to `nft -f -` on stdin (atomic). Rejects with ApplyFailed naming the line. */
  apply(payload: NftablesSyncResult | string, options?: { signal?: AbortSignal }): Promise<void>;
  /**
   * True when `family table` exists. Asks nft to add an (always present) empty `canary` chain:
   * that needs only nft's table cache, while `nft list tables` loads the whole ruleset cache,
   * which costs hundreds of ms on a big table.
   */
  tableExists(family: "ip" | "ip6", table: string, options?: { signal?: AbortSignal }): Promise<boolean>;
  /** Deletes the table (kube-proxy --cleanup). */
  cleanup(family: "ip" | "ip6", table: string, options?: { signal?: AbortSignal }): Promise<void>;
}

/** Creates an nftables applier. */
export function createNftablesApplier(options: NftablesApplierOptions = {}): NftablesApplier {
  const cmd = (signal: AbortSignal | undefined): CommandOptions => ({
    netns: options.netns,
    timeoutMs: options.timeoutMs,
    signal,
  });
  return {
    async apply(payload, opts = {}) {
      const input = typeof payload === "string" ? payload : payload.chunks;
      if (input.length === 0) return; // nothing changed
      const r = await runCommand(["nft", "-f", "-"], input, cmd(opts.signal));
      if (r.code !== 0)
        throw applyError("nft -f -", r, typeof payload === "string" ? payload : payload.payload);
    },
    async tableExists(family, table, opts = {}) {
      const text = `add chain ${family} ${table} ${NFT_CANARY_CHAIN}\n`;
      const r = await runCommand(["nft", "-f", "-"], text, cmd(opts.signal));
      if (r.code === 0) return true;
      if (/No such file or directory/.test(r.stderr)) return false;
      throw applyError("nft -f -", r, text);
    },
    async cleanup(family, table, opts = {}) {
      const text = `add table ${family} ${table}\ndelete table ${family} ${table}\n`;
      const r = await runCommand(["nft", "-f", "-"], text, cmd(opts.signal));
      if (r.code !== 0) throw applyError("nft -f -", r, text);
    },
  };
}

/** Backend + applier + conntrack cleanup for one family. */
export interface NftablesProxier {
  readonly backend: NftablesBackend;
  readonly applier: NftablesApplier;
  /** Programs `model`: incremental when possible; full on first use, after a failure or when the table vanished. */
  sync(model: ProxyModel, options?: { full?: boolean; signal?: AbortSignal }): Promise<ProxierSyncReport>;
}

/** Creates an {@link NftablesProxier}. */
export function createNftablesProxier(
  options: NftablesBackendOptions & ProxierOptions = {},
): NftablesProxier {
  const backend = createNftablesBackend(options);
  const applier = createNftablesApplier({
    ...(options.netns !== undefined ? { netns: options.netns } : {}),
    ...(options.timeoutMs !== undefined ? { timeoutMs: options.timeoutMs } : {}),
  });
  const nftFamily = backend.family === "IPv4" ? "ip" : "ip6";
  return {
    backend,
    applier,
    sync: createProxierSync(options, {
      family: backend.family,
      // The table is our canary: if it is gone, someone flushed the ruleset.
      rulesIntact: (s) => applier.tableExists(nftFamily, backend.tableName, s),
      generate: async (model, full) => backend.sync(model, { full }),
      apply: (result, s) => applier.apply(result, s),
      invalidate: () => backend.invalidate(),
    }),
  };
}
