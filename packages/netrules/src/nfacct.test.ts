import { describe, expect, it } from "vitest";
import { NetrulesError } from "./errors.js";
import { ensureNfacctCounters, parseNfacctList } from "./nfacct.js";

describe("nfacct", () => {
  it("parses `nfacct list` output into packets and bytes by counter", () => {
    const text = [
      "{ pkts = 00000000000000000042, bytes = 00000000000000003360 } = ct_state_invalid_dropped_pkts;",
      "{ pkts = 00000000000000000000, bytes = 00000000000000000000 } = localhost_nps_accepted_pkts;",
      "garbage line",
      "",
    ].join("\n");
    expect(parseNfacctList(text)).toEqual(
      new Map([
        ["ct_state_invalid_dropped_pkts", { packets: 42, bytes: 3360 }],
        ["localhost_nps_accepted_pkts", { packets: 0, bytes: 0 }],
      ]),
    );
  });

  it("refuses a counter name that is not a plain token, before running anything", async () => {
    for (const bad of ["", "a b", "x;rm", "-j", "n".repeat(32)]) {
      const err = await ensureNfacctCounters([bad]).catch((e: unknown) => e);
      expect(err, bad).toBeInstanceOf(NetrulesError);
      expect((err as NetrulesError).message).toContain("invalid nfacct counter name");
    }
  });
});

describe("nfacct on a host that cannot have the counters", () => {
  it("reports each counter it could not create, with the tool's reason, instead of throwing", async () => {
    // A namespace that does not exist stands in for a host without nfacct support: every run fails.
    const { available, failed } = await ensureNfacctCounters(["ct_state_invalid_dropped_pkts"], {
      netns: "kubenode-no-such-netns",
    });
    expect(available).toEqual([]);
    expect([...failed.keys()]).toEqual(["ct_state_invalid_dropped_pkts"]);
    expect(failed.get("ct_state_invalid_dropped_pkts")).toMatch(/kubenode-no-such-netns|not found/);
  });
});
