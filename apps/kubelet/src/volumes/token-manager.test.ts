import { createFakeClock } from "@kubenode/kube";
import { describe, expect, it } from "vitest";
import type { TokenRequestSpec } from "../object-source.js";
import { createTokenManager, requiresRefresh } from "./token-manager.js";

const HOUR = 3600_000;
const spec: TokenRequestSpec = {
  audiences: ["api"],
  expirationSeconds: 3600,
  boundPod: { name: "p", uid: "u1" },
};

describe("requiresRefresh (upstream token manager)", () => {
  it("refreshes after 80% of the lifetime, minus jitter", () => {
    const exp = 10 * HOUR;
    const iat = exp - HOUR;
    expect(requiresRefresh(iat + 0.79 * HOUR, exp, 3600, 0)).toBe(false);
    expect(requiresRefresh(iat + 0.81 * HOUR, exp, 3600, 0)).toBe(true);
    expect(requiresRefresh(iat + 0.8 * HOUR - 5000, exp, 3600, 10_000)).toBe(true);
  });

  it("refreshes a long-lived token after 24 h", () => {
    const week = 7 * 24 * 3600;
    const exp = week * 1000;
    expect(requiresRefresh(24 * HOUR - 1000, exp, week, 0)).toBe(false);
    expect(requiresRefresh(24 * HOUR + 1000, exp, week, 0)).toBe(true);
  });
});

describe("createTokenManager", () => {
  it("caches per (service account, audiences, expiry, pod) and re-requests when due", async () => {
    const clock = createFakeClock(0);
    let n = 0;
    const tm = createTokenManager({
      clock,
      random: () => 0,
      objects: {
        async requestToken() {
          n++;
          return { token: `t${n}`, expirationTimestampMs: clock.now() + HOUR };
        },
      },
    });
    expect(await tm.getToken("ns", "default", spec)).toBe("t1");
    expect(await tm.getToken("ns", "default", spec)).toBe("t1");
    expect(await tm.getToken("ns", "default", { ...spec, audiences: ["other"] })).toBe("t2");
    await clock.step(0.81 * HOUR);
    expect(await tm.getToken("ns", "default", spec)).toBe("t3");
    tm.forgetPod("u1");
    expect(await tm.getToken("ns", "default", spec)).toBe("t4");
  });

  it("keeps serving an unexpired token when a refresh fails, and fails once it expired", async () => {
    const clock = createFakeClock(0);
    let fail = false;
    const tm = createTokenManager({
      clock,
      random: () => 0,
      objects: {
        async requestToken() {
          if (fail) throw new Error("apiserver down");
          return { token: "t", expirationTimestampMs: clock.now() + HOUR };
        },
      },
    });
    await tm.getToken("ns", "sa", spec);
    fail = true;
    await clock.step(0.9 * HOUR);
    expect(await tm.getToken("ns", "sa", spec)).toBe("t");
    await clock.step(0.2 * HOUR);
    await expect(tm.getToken("ns", "sa", spec)).rejects.toThrow("apiserver down");
  });
});
