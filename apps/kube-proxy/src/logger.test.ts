import { describe, expect, it } from "vitest";
import { createLogger } from "./logger.js";

const at = () => new Date(Date.UTC(2026, 10, 27, 17, 5, 9, 123));

describe("logger", () => {
  it("writes klog-style text lines with quoted key/value pairs and honours -v", () => {
    const lines: string[] = [];
    const log = createLogger({ format: "text", verbosity: 2, write: (l) => lines.push(l), now: at });
    log.info("Synced proxy rules", { full: true, lines: 43, mode: "iptables" });
    log.v(2, "visible at v=2");
    log.v(3, "hidden at v=2");
    log.error("Failed to sync proxy rules; will retry", new Error("line 3 failed"), { full: false });
    expect(lines).toHaveLength(3);
    expect(lines[0]).toMatch(
      /^I1127 17:05:09\.123000 \d+ proxy\] "Synced proxy rules" full=true lines=43 mode="iptables"\n$/,
    );
    expect(lines[2]).toMatch(
      /^E1127 .* "Failed to sync proxy rules; will retry" err="line 3 failed" full=false\n$/,
    );
  });

  it("writes one JSON object per line with --logging-format=json", () => {
    const lines: string[] = [];
    const log = createLogger({ format: "json", verbosity: 0, write: (l) => lines.push(l), now: at });
    log.warn("Proxy rules were flushed (canary missing); doing a full resync", { mode: "nftables" });
    log.error("Cleanup failed", "boom");
    expect(JSON.parse(lines[0]!)).toEqual({
      ts: Date.UTC(2026, 10, 27, 17, 5, 9, 123) / 1000,
      v: 0,
      msg: "Proxy rules were flushed (canary missing); doing a full resync",
      mode: "nftables",
    });
    expect(JSON.parse(lines[1]!)).toMatchObject({ msg: "Cleanup failed", err: "boom" });
  });
});
