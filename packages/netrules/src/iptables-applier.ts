import type { Clock } from "@kubenode/kube";
import { applyError, type CommandOptions, runCommand } from "./exec.js";
import type { IPFamily } from "./ip.js";
import {
  createIptablesBackend,
  IPTABLES_CANARY_CHAIN,
  IPTABLES_JUMP_RULES,
  IPTABLES_KUBELET_JUMP_RULES,
  type IptablesBackend,
  type IptablesBackendOptions,
  type IptablesSyncResult,
} from "./iptables.js";
import { createIptablesRuleCounter } from "./iptables-rule-counter.js";
import type { ProxyModel } from "./model.js";
import { createProxierSync, type ProxierOptions, type ProxierSyncReport } from "./proxier-loop.js";

/** Options of {@link createIptablesApplier}. */
export interface IptablesApplierOptions {
  family?: IPFamily | undefined;
  /** Apply inside this named network namespace. */
  netns?: string | undefined;
  /** Per-command timeout. Default 120 000. */
  timeoutMs?: number | undefined;
  /** Runs the per-command timeout. Default: the wall clock. */
  clock?: Clock | undefined;
}

/** Runs iptables-restore / iptables for one family, in the host or a network namespace. */
export interface IptablesApplier {
  /** Feeds a payload to `iptables-restore -w --noflush --counters` on stdin. Rejects with ApplyFailed naming the line. */
  apply(payload: IptablesSyncResult | string, options?: { signal?: AbortSignal }): Promise<void>;
  /** Creates the canary chains and the jump rules from the built-in chains (idempotent). */
  ensureBaseRules(options?: { signal?: AbortSignal }): Promise<void>;
  /** False when the mangle canary chain is gone: someone flushed the ruleset and a full resync is due. */
  canaryExists(options?: { signal?: AbortSignal }): Promise<boolean>;
  /** nat chains present in the kernel (`iptables-save -t nat`). */
  listNatChains(options?: { signal?: AbortSignal }): Promise<string[]>;
  /**
   * Removes every rule and chain this package creates (kube-proxy --cleanup), except, as upstream,
   * the `KUBE-FIREWALL` chain and its jumps, which kubelet also owns.
   */
  cleanup(options?: { signal?: AbortSignal }): Promise<void>;
}

/** Creates an iptables applier. */
export function createIptablesApplier(options: IptablesApplierOptions = {}): IptablesApplier {
  const v6 = options.family === "IPv6";
  const iptables = v6 ? "ip6tables" : "iptables";
  const restore = v6 ? "ip6tables-restore" : "iptables-restore";
  const save = v6 ? "ip6tables-save" : "iptables-save";
  const cmd = (signal: AbortSignal | undefined): CommandOptions => ({
    netns: options.netns,
    timeoutMs: options.timeoutMs,
    clock: options.clock,
    signal,
  });
  const run = async (argv: string[], signal: AbortSignal | undefined, input?: string) => {
    const r = await runCommand(argv, input, cmd(signal));
    if (r.code !== 0) throw applyError(argv.join(" "), r, input);
    return r;
  };
  return {
    async apply(payload, opts = {}) {
      const input = typeof payload === "string" ? payload : payload.chunks;
      const r = await runCommand([restore, "-w", "--noflush", "--counters"], input, cmd(opts.signal));
      if (r.code !== 0) throw applyError(restore, r, typeof payload === "string" ? payload : payload.payload);
    },
    async ensureBaseRules(opts = {}) {
      for (const table of ["mangle", "nat", "filter"]) {
        const r = await runCommand(
          [iptables, "-w", "-t", table, "-N", IPTABLES_CANARY_CHAIN],
          undefined,
          cmd(opts.signal),
        );
        if (r.code !== 0 && !/exists/i.test(r.stderr)) throw applyError(iptables, r, undefined);
      }
      // The chains must exist before a rule can jump to them. Every jump is inserted first in its
      // built-in chain, in this order, as kube-proxy does: the KUBE-FIREWALL jumps end up first.
      const jumps = [...IPTABLES_JUMP_RULES, ...IPTABLES_KUBELET_JUMP_RULES];
      const chains = new Map<string, Set<string>>();
      for (const j of jumps) {
        const target = j.args[j.args.indexOf("-j") + 1]!;
        chains.set(j.table, (chains.get(j.table) ?? new Set()).add(target));
      }
      for (const [table, set] of chains) {
        for (const c of set) {
          const r = await runCommand([iptables, "-w", "-t", table, "-N", c], undefined, cmd(opts.signal));
          if (r.code !== 0 && !/exists/i.test(r.stderr)) throw applyError(iptables, r, undefined);
        }
      }
      for (const j of jumps) {
        const check = await runCommand(
          [iptables, "-w", "-t", j.table, "-C", j.chain, ...j.args],
          undefined,
          cmd(opts.signal),
        );
        if (check.code === 0) continue;
        await run([iptables, "-w", "-t", j.table, "-I", j.chain, ...j.args], opts.signal);
      }
    },
    async canaryExists(opts = {}) {
      const r = await runCommand(
        [iptables, "-w", "-t", "mangle", "-S", IPTABLES_CANARY_CHAIN],
        undefined,
        cmd(opts.signal),
      );
      return r.code === 0;
    },
    async listNatChains(opts = {}) {
      const r = await run([save, "-t", "nat"], opts.signal);
      return r.stdout
        .split("\n")
        .filter((l) => l.startsWith(":"))
        .map((l) => l.slice(1).split(" ")[0]!);
    },
    async cleanup(opts = {}) {
      for (const j of IPTABLES_JUMP_RULES) {
        await runCommand(
          [iptables, "-w", "-t", j.table, "-D", j.chain, ...j.args],
          undefined,
          cmd(opts.signal),
        );
      }
      const nat = await this.listNatChains(opts).catch((): string[] => []);
      const ours = (c: string) => c.startsWith("KUBE-");
      const payload = [
        "*filter",
        ...[
          "KUBE-SERVICES",
          "KUBE-EXTERNAL-SERVICES",
          "KUBE-FORWARD",
          "KUBE-NODEPORTS",
          "KUBE-PROXY-FIREWALL",
        ].map((c) => `:${c} - [0:0]`),
        ...[
          "KUBE-SERVICES",
          "KUBE-EXTERNAL-SERVICES",
          "KUBE-FORWARD",
          "KUBE-NODEPORTS",
          "KUBE-PROXY-FIREWALL",
        ].map((c) => `-X ${c}`),
        "COMMIT",
        "*nat",
        ...nat.filter(ours).map((c) => `:${c} - [0:0]`),
        ...nat.filter(ours).map((c) => `-X ${c}`),
        "COMMIT",
        "",
      ].join("\n");
      await runCommand([restore, "-w", "--noflush"], payload, cmd(opts.signal));
      for (const table of ["mangle", "nat", "filter"]) {
        await runCommand(
          [iptables, "-w", "-t", table, "-X", IPTABLES_CANARY_CHAIN],
          undefined,
          cmd(opts.signal),
        );
      }
    },
  };
}

/** Backend + applier + conntrack cleanup for one family: what kube-proxy's sync loop calls. */
export interface IptablesProxier {
  readonly backend: IptablesBackend;
  readonly applier: IptablesApplier;
  /** Programs `model`; partial when possible, full on first use, after a failure or a flushed ruleset. */
  sync(model: ProxyModel, options?: { full?: boolean; signal?: AbortSignal }): Promise<ProxierSyncReport>;
  /**
   * Rules this proxier has installed, by table (`filter`, `nat`), kept exact across partial
   * syncs: kube-proxy's `sync_proxy_rules_iptables_total{table}`. Empty before the first sync.
   */
  ruleCounts(): Record<string, number>;
}

/** Creates an {@link IptablesProxier}. */
export function createIptablesProxier(
  options: IptablesBackendOptions & ProxierOptions = {},
): IptablesProxier {
  const backend = createIptablesBackend(options);
  const applier = createIptablesApplier({
    family: backend.family,
    netns: options.netns,
    timeoutMs: options.timeoutMs,
    clock: options.clock,
  });
  const counter = createIptablesRuleCounter();
  return {
    backend,
    applier,
    ruleCounts: () => counter.totals(),
    sync: createProxierSync(options, {
      family: backend.family,
      rulesIntact: (s) => applier.canaryExists(s),
      async generate(model, full, s) {
        if (!full) return backend.sync(model, { full });
        await applier.ensureBaseRules(s);
        return backend.sync(model, { full, existingNatChains: await applier.listNatChains(s) });
      },
      async apply(result, s) {
        await applier.apply(result, s);
        counter.applied(result);
      },
      invalidate: () => backend.invalidate(),
    }),
  };
}
