import type { IptablesSyncResult } from "./iptables.js";

/** Counts `-A` rules per chain of the payloads applied, so totals stay exact across partial ones. */
export function createIptablesRuleCounter() {
  const byChain = new Map<string, { table: string; n: number }>();
  return {
    /** Counts a payload given as chunks that end at line boundaries. */
    applied(result: IptablesSyncResult) {
      if (result.full) byChain.clear();
      let table = "";
      const touched = new Map<string, number>();
      for (const chunk of result.chunks)
        for (const line of chunk.split("\n")) {
          if (line.startsWith("*")) table = line.slice(1);
          else if (line.startsWith(":")) touched.set(`${table}/${line.slice(1).split(" ")[0]}`, 0);
          else if (line.startsWith("-A ")) {
            const k = `${table}/${line.slice(3, line.indexOf(" ", 3))}`;
            touched.set(k, (touched.get(k) ?? 0) + 1);
          } else if (line.startsWith("-X ")) {
            const k = `${table}/${line.slice(3).trim()}`;
            byChain.delete(k);
            touched.delete(k);
          }
        }
      for (const [k, n] of touched) byChain.set(k, { table: k.slice(0, k.indexOf("/")), n });
    },
    totals(): Record<string, number> {
      const out: Record<string, number> = {};
      for (const { table, n } of byChain.values()) out[table] = (out[table] ?? 0) + n;
      return out;
    },
  };
}
