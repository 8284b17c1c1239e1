import { describe, expect, it } from "vitest";
import { resolveBackendOptions } from "./backend-options.js";
import { createIptablesBackend } from "./iptables.js";
import { createNftablesBackend } from "./nftables.js";

describe("resolveBackendOptions", () => {
  it("defaults to IPv4 and kube-proxy's masquerade bit 14, and canonicalises the cluster CIDR", () => {
    expect(resolveBackendOptions({ clusterCIDR: "010.244.0.0/16" })).toEqual({
      family: "IPv4",
      masqMark: "0x4000",
      localCidr: "10.244.0.0/16",
    });
    expect(resolveBackendOptions({ family: "IPv6", masqueradeBit: 0 })).toEqual({
      family: "IPv6",
      masqMark: "0x1",
      localCidr: undefined,
    });
  });

  it("rejects bad values in both backends with the same message naming them", () => {
    for (const create of [createIptablesBackend, createNftablesBackend]) {
      expect(() => create({ masqueradeBit: 32 })).toThrow("masqueradeBit 32 out of range 0-31");
      expect(() => create({ family: "IPv6", clusterCIDR: "10.0.0.0/8" })).toThrow(
        "clusterCIDR 10.0.0.0/8 is not a valid IPv6 CIDR",
      );
      expect(() => create({ family: "IPv5" as never })).toThrow("unknown family IPv5");
    }
  });
});
