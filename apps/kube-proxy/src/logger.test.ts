import { createLogger } from "@kubenode/kube";
import { describe, expect, it } from "vitest";
import { withFields } from "./logger.js";

describe("withFields", () => {
  it("adds the fields to every record, below a name too, and lets a record's own fields win", () => {
    const lines: string[] = [];
    const log = createLogger({ format: "json", verbosity: 2, write: (l) => lines.push(l) });
    const moded = withFields(log, { mode: "iptables" });
    moded.info("Synced proxy rules", { full: true });
    moded.withName("conntrack").v(2, "Deleted stale entries", { mode: "override" });
    moded.error("Failed to sync proxy rules; will retry", new Error("line 3 failed"));
    const records = lines.map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(records[0]).toMatchObject({ msg: "Synced proxy rules", mode: "iptables", full: true });
    expect(records[1]).toMatchObject({ logger: "conntrack", mode: "override" });
    expect(records[2]).toMatchObject({ mode: "iptables", err: "line 3 failed" });
  });
});
