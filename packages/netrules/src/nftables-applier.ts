import type { Clock } from "@kubenode/kube";
import { applyError, type CommandOptions, runCommand } from "./exec.js";
import type { ProxyModel } from "./model.js";
import {
  createNftablesBackend,
  type NftablesBackend,
  type NftablesBackendOptions,
  type NftablesSyncResult,
  type NftablesTableObjects,
} from "./nftables.js";
import { createProxierSync, type ProxierOptions, type ProxierSyncReport } from "./proxier-loop.js";

/** An empty chain kept in our table: adding it again is how the applier checks the table is still there. */
export const NFT_CANARY_CHAIN = "canary";

/** Options of {@link createNftablesApplier}. */
export interface NftablesApplierOptions {
  /** Apply inside this named network namespace. */
  netns?: string | undefined;
  /** Per-command timeout. Default 120 000. */
  timeoutMs?: number | undefined;
  /** Runs the per-command timeout. Default: the wall clock. */
  clock?: Clock | undefined;
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
  /**
   * The names of the table's chains, sets and maps (three `nft -t -j list ...` runs, declarations
   * only), or undefined when the table does not exist. For in-place full
   * syncs (see {@link NftablesSyncOptions.existing}).
   */
  listTable(
    family: "ip" | "ip6",
    table: string,
    options?: { signal?: AbortSignal },
  ): Promise<NftablesTableObjects | undefined>;
  /** Deletes the table (kube-proxy --cleanup). */
  cleanup(family: "ip" | "ip6", table: string, options?: { signal?: AbortSignal }): Promise<void>;
}

/** Creates an nftables applier. */
export function createNftablesApplier(options: NftablesApplierOptions = {}): NftablesApplier {
  const cmd = (signal: AbortSignal | undefined): CommandOptions => ({
    netns: options.netns,
    timeoutMs: options.timeoutMs,
    clock: options.clock,
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
    async listTable(family, table, opts = {}) {
      // nft 1.0.6 takes a table only for `list sets`; chains and maps are listed per family.
      const names = async (kind: "chains" | "sets" | "maps"): Promise<string[] | undefined> => {
        const argv =
          kind === "sets"
            ? ["nft", "-t", "-j", "list", "sets", "table", family, table]
            : ["nft", "-t", "-j", "list", kind, family];
        const r = await runCommand(argv, undefined, cmd(opts.signal));
        if (r.code !== 0) {
          if (/No such file or directory/.test(r.stderr)) return undefined;
          throw applyError(argv.join(" "), r, undefined);
        }
        const key = kind.slice(0, -1);
        const doc = JSON.parse(r.stdout) as {
          nftables?: Record<string, { name?: unknown; table?: unknown }>[];
        };
        const out: string[] = [];
        for (const item of doc.nftables ?? []) {
          const o = item[key];
          if (o && o.table === table && typeof o.name === "string") out.push(o.name);
        }
        return out;
      };
      const sets = await names("sets");
      if (sets === undefined) return undefined; // no such table
      return { chains: (await names("chains")) ?? [], sets, maps: (await names("maps")) ?? [] };
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
    netns: options.netns,
    timeoutMs: options.timeoutMs,
    clock: options.clock,
  });
  const nftFamily = backend.family === "IPv4" ? "ip" : "ip6";
  // Full syncs rewrite the table in place, keeping the ClientIP affinity sets (as kube-proxy
  // does). If such a transaction fails (say the table holds something we cannot redefine), the
  // next full sync deletes and recreates the table instead.
  let inPlaceFailed = false;
  let lastInPlace = false;
  return {
    backend,
    applier,
    sync: createProxierSync(options, {
      family: backend.family,
      // The table is our canary: if it is gone, someone flushed the ruleset.
      rulesIntact: (s) => applier.tableExists(nftFamily, backend.tableName, s),
      generate: async (model, full, s) => {
        lastInPlace = false;
        if (!full) return backend.sync(model, { full });
        const existing = inPlaceFailed ? undefined : await applier.listTable(nftFamily, backend.tableName, s);
        inPlaceFailed = false;
        lastInPlace = existing !== undefined;
        return backend.sync(model, { full, existing });
      },
      apply: (result, s) => applier.apply(result, s),
      invalidate: () => {
        if (lastInPlace) inPlaceFailed = true;
        backend.invalidate();
      },
    }),
  };
}
