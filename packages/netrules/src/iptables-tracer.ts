import { cidrContains, parseCidr, parseIP } from "./ip.js";

/** An in-memory iptables ruleset (tables -> chains -> rules), fed with restore payloads. */
export interface IptablesRuleset {
  tables: Map<string, Map<string, string[][]>>;
}

const BUILTIN_CHAINS = new Set(["PREROUTING", "INPUT", "FORWARD", "OUTPUT", "POSTROUTING"]);
const BUILTIN_TARGETS = new Set([
  "ACCEPT",
  "DROP",
  "REJECT",
  "RETURN",
  "MARK",
  "MASQUERADE",
  "DNAT",
  "SNAT",
  "LOG",
]);

/** Splits one restore line into words, honouring double quotes. */
export function tokenize(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let inQuote = false;
  let has = false;
  for (const ch of line) {
    if (ch === '"') {
      inQuote = !inQuote;
      has = true;
    } else if (ch === " " && !inQuote) {
      if (has) out.push(cur);
      cur = "";
      has = false;
    } else {
      cur += ch;
      has = true;
    }
  }
  if (has) out.push(cur);
  return out;
}

/** A new, empty ruleset. */
export function createIptablesRuleset(): IptablesRuleset {
  return { tables: new Map() };
}

/**
 * Applies an `iptables-restore --noflush` payload the way the kernel tool would: `:CHAIN` creates
 * or flushes, `-A` appends, `-X` deletes. Throws on a jump to a missing chain or a deleted chain
 * still referenced, like iptables-restore does.
 */
export function applyRestorePayload(ruleset: IptablesRuleset, payload: string): void {
  let table: Map<string, string[][]> | undefined;
  const lines = payload.split("\n");
  let staged: Map<string, string[][]> | undefined;
  let tableName = "";
  lines.forEach((raw, i) => {
    const line = raw.trim();
    if (line === "" || line.startsWith("#")) return;
    const where = `line ${i + 1}`;
    if (line.startsWith("*")) {
      tableName = line.slice(1);
      table = ruleset.tables.get(tableName) ?? new Map();
      staged = new Map([...table].map(([k, v]) => [k, [...v]]));
      return;
    }
    if (!staged) throw new Error(`${where}: rule outside a table`);
    if (line === "COMMIT") {
      for (const [chain, rules] of staged) {
        for (const r of rules) {
          const j = r.indexOf("-j");
          const target = j >= 0 ? r[j + 1]! : undefined;
          if (target && !BUILTIN_TARGETS.has(target) && !staged.has(target) && !BUILTIN_CHAINS.has(target)) {
            throw new Error(`${where}: chain ${chain} jumps to missing chain ${target}`);
          }
        }
      }
      ruleset.tables.set(tableName, staged);
      staged = undefined;
      return;
    }
    if (line.startsWith(":")) {
      const name = line.slice(1).split(" ")[0]!;
      staged.set(name, []);
      return;
    }
    const t = tokenize(line);
    if (t[0] === "-A") {
      const chain = t[1]!;
      const rules = staged.get(chain) ?? (BUILTIN_CHAINS.has(chain) ? [] : undefined);
      if (!rules) throw new Error(`${where}: append to missing chain ${chain}`);
      rules.push(t);
      staged.set(chain, rules);
    } else if (t[0] === "-X") {
      const chain = t[1]!;
      for (const [other, rules] of staged) {
        if (other !== chain && rules.some((r) => r[r.indexOf("-j") + 1] === chain && r.includes("-j"))) {
          throw new Error(`${where}: cannot delete ${chain}: still referenced by ${other}`);
        }
      }
      staged.delete(chain);
    } else {
      throw new Error(`${where}: unsupported line ${JSON.stringify(line)}`);
    }
  });
  void table;
}

/** Jumps (`-j X`) whose target chain does not exist in the same table: "table/chain -> target". */
export function findDanglingJumps(ruleset: IptablesRuleset): string[] {
  const out: string[] = [];
  for (const [tableName, chains] of ruleset.tables) {
    for (const [chain, rules] of chains) {
      for (const r of rules) {
        const j = r.indexOf("-j");
        if (j < 0) continue;
        const target = r[j + 1]!;
        if (BUILTIN_TARGETS.has(target) || chains.has(target)) continue;
        out.push(`${tableName}/${chain} -> ${target}`);
      }
    }
  }
  return out;
}

/** A packet to trace. */
export interface TracePacket {
  source: string;
  protocol: "tcp" | "udp" | "sctp";
  destination: string;
  port: number;
  /** True when the packet originates on the node itself (nat OUTPUT instead of PREROUTING). */
  fromLocalProcess?: boolean;
}

/** One way the packet can go (random load balancing gives one outcome per endpoint). */
export interface TraceOutcome {
  verdict: "DNAT" | "ACCEPT" | "DROP" | "REJECT";
  /** "ip:port" the packet is DNATed to. */
  endpoint: string | undefined;
  /** True when KUBE-POSTROUTING will masquerade the packet. */
  masquerade: boolean;
  /** Chains walked, in order ("nat/KUBE-SERVICES", ...). */
  chains: string[];
}

interface WalkState {
  dst: string;
  mark: number;
  dnat: string | undefined;
  verdict: TraceOutcome["verdict"] | undefined;
  masq: boolean;
  chains: string[];
}

/**
 * Walks the rules for a packet, like upstream's packet tracer: nat (PREROUTING or OUTPUT ->
 * KUBE-SERVICES) first, then the filter chains with the post-DNAT destination, then
 * KUBE-POSTROUTING's masquerade decision. `localAddresses` are the node's own IPs
 * (for `-m addrtype --dst-type/--src-type LOCAL`).
 */
export function traceIptables(
  ruleset: IptablesRuleset,
  packet: TracePacket,
  localAddresses: readonly string[],
): TraceOutcome[] {
  const nat = ruleset.tables.get("nat") ?? new Map<string, string[][]>();
  const filter = ruleset.tables.get("filter") ?? new Map<string, string[][]>();
  const isLocal = (ip: string) => localAddresses.includes(ip) || ip.startsWith("127.") || ip === "::1";

  const matches = (rule: string[], st: WalkState): boolean | "random" => {
    let random = false;
    for (let i = 2; i < rule.length; i++) {
      const tok = rule[i]!;
      let neg = false;
      let t = tok;
      if (t === "!") {
        neg = true;
        t = rule[++i]!;
      }
      const val = rule[i + 1];
      let ok = true;
      switch (t) {
        case "-m":
        case "--comment":
        case "--mode":
        case "--name":
        case "--seconds":
          i++;
          continue;
        case "--reap":
        case "--set":
          continue;
        case "--rcheck":
          // No affinity state is kept by the tracer: a fresh client never matches.
          return false;
        case "--probability":
          random = true;
          i++;
          continue;
        case "-p":
          ok = val === packet.protocol;
          i++;
          break;
        case "-s":
        case "-d": {
          const ip = t === "-s" ? packet.source : st.dst;
          const c = parseCidr(
            val!.includes("/") ? val! : `${val}/${parseIP(val!)?.family === "IPv6" ? 128 : 32}`,
          );
          ok = c !== undefined && cidrContains(c, parseIP(ip)?.ip ?? ip);
          i++;
          break;
        }
        case "--dport":
          ok = Number(val) === packet.port;
          i++;
          break;
        case "--dst-type":
          ok = val === "LOCAL" ? isLocal(st.dst) : false;
          i++;
          break;
        case "--src-type":
          ok = val === "LOCAL" ? packet.fromLocalProcess === true || isLocal(packet.source) : false;
          i++;
          break;
        case "--mark": {
          const [v, m] = val!.split("/").map((x) => Number(x));
          ok = (st.mark & (m ?? 0xffffffff)) === v;
          i++;
          break;
        }
        case "--ctstate":
          ok = val!.split(",").includes("NEW");
          i++;
          break;
        case "-j":
          return random ? "random" : true;
        default:
          throw new Error(`tracer: unsupported match ${t} in ${rule.join(" ")}`);
      }
      if (ok === neg) return false;
    }
    return random ? "random" : true;
  };

  // Returns the states after walking `chain` (several when a random match forks).
  const walk = (
    table: Map<string, string[][]>,
    tname: string,
    chain: string,
    st: WalkState,
    depth = 0,
  ): WalkState[] => {
    if (depth > 50) throw new Error("tracer: jump loop");
    const rules = table.get(chain);
    if (!rules) return [st];
    st.chains.push(`${tname}/${chain}`);
    let live: WalkState[] = [st];
    const done: WalkState[] = [];
    for (const rule of rules) {
      const next: WalkState[] = [];
      for (const s of live) {
        const m = matches(rule, s);
        if (!m) {
          next.push(s);
          continue;
        }
        const j = rule.indexOf("-j");
        if (j < 0) {
          next.push(s);
          continue;
        }
        const branch = m === "random" ? { ...s, chains: [...s.chains] } : s;
        const target = rule[j + 1]!;
        const arg = rule[j + 3];
        let results: WalkState[] = [];
        let stop = false;
        switch (target) {
          case "RETURN":
            done.push(branch);
            stop = true;
            break;
          case "MARK":
            if (rule[j + 2] === "--or-mark") branch.mark |= Number(arg);
            else if (rule[j + 2] === "--xor-mark") branch.mark ^= Number(arg);
            results = [branch];
            break;
          case "MASQUERADE":
            branch.masq = true;
            results = [branch];
            break;
          case "DNAT":
            branch.dnat = arg;
            branch.verdict = "DNAT";
            done.push(branch);
            stop = true;
            break;
          case "ACCEPT":
          case "DROP":
          case "REJECT":
            branch.verdict = target;
            done.push(branch);
            stop = true;
            break;
          default:
            for (const r of walk(table, tname, target, branch, depth + 1)) {
              if (r.verdict) done.push(r);
              else results.push(r);
            }
        }
        if (m === "random") next.push(s);
        if (!stop) next.push(...results);
      }
      live = next;
      if (live.length === 0) break;
    }
    return [...done, ...live];
  };

  const start: WalkState = {
    dst: packet.destination,
    mark: 0,
    dnat: undefined,
    verdict: undefined,
    masq: false,
    chains: [],
  };
  const natStates = walk(nat, "nat", "KUBE-SERVICES", start);
  const outcomes: TraceOutcome[] = [];
  for (const s of natStates) {
    if (s.dnat) {
      const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(s.dnat);
      s.dst = m ? m[1]! : s.dst;
    }
    const natVerdict = s.verdict;
    s.verdict = undefined;
    const toLocal = isLocal(s.dst);
    const order: string[] = packet.fromLocalProcess
      ? ["KUBE-PROXY-FIREWALL", "KUBE-SERVICES"]
      : toLocal
        ? ["KUBE-PROXY-FIREWALL", "KUBE-EXTERNAL-SERVICES", "KUBE-NODEPORTS"]
        : ["KUBE-PROXY-FIREWALL", "KUBE-EXTERNAL-SERVICES", "KUBE-SERVICES", "KUBE-FORWARD"];
    let final = s;
    for (const chain of order) {
      const r = walk(filter, "filter", chain, final);
      final = r[0]!;
      if (final.verdict) break;
    }
    const verdict =
      final.verdict === "DROP" || final.verdict === "REJECT" ? final.verdict : (natVerdict ?? "ACCEPT");
    const post = walk(nat, "nat", "KUBE-POSTROUTING", {
      ...final,
      chains: [...final.chains],
      verdict: undefined,
    });
    const masquerade = post.some((p) => p.masq);
    outcomes.push({
      verdict,
      endpoint: verdict === "DNAT" ? s.dnat : undefined,
      masquerade,
      chains: final.chains,
    });
  }
  return outcomes;
}
