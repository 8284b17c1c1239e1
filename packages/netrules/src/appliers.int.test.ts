import { canUseRealComponents, createNetworkLab, type NetworkLab } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NetrulesError } from "./errors.js";
import { runCommand } from "./exec.js";
import { createIptablesApplier } from "./iptables-applier.js";
import { createNftablesApplier } from "./nftables-applier.js";

const real = await canUseRealComponents(["iptables", "nftables", "iproute2"]);

describe.runIf(real)("appliers against the real tools", () => {
  let lab: NetworkLab;
  beforeAll(async () => {
    lab = await createNetworkLab({ hosts: ["n"] });
  });
  afterAll(() => lab?.destroy());

  it("surfaces iptables-restore errors with the failing payload line", async () => {
    const applier = createIptablesApplier({ netns: lab.host("n").netns });
    const payload = "*nat\n:KUBE-SERVICES - [0:0]\n-A KUBE-SERVICES --no-such-option -j ACCEPT\nCOMMIT\n";
    const err = await applier.apply(payload).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(NetrulesError);
    expect((err as NetrulesError).code).toBe("ApplyFailed");
    expect((err as NetrulesError).line).toBe(3);
    expect((err as NetrulesError).lineText).toBe("-A KUBE-SERVICES --no-such-option -j ACCEPT");
  });

  it("surfaces nft errors with the failing payload line", async () => {
    const applier = createNftablesApplier({ netns: lab.host("n").netns });
    const payload = "add table ip t\nadd chain ip t c\nadd rule ip t c bogus keyword\n";
    const err = (await applier.apply(payload).catch((e: unknown) => e)) as NetrulesError;
    expect(err.code).toBe("ApplyFailed");
    expect(err.line).toBe(3);
    expect(err.message).toContain("add rule ip t c bogus keyword");
    // nothing of the failed transaction was applied (nft -f is atomic)
    expect(await applier.tableExists("ip", "t")).toBe(false);
  });

  it("creates the canary and the jump rules once, and cleans them up", async () => {
    const applier = createIptablesApplier({ netns: lab.host("n").netns });
    expect(await applier.canaryExists()).toBe(false);
    await applier.ensureBaseRules();
    await applier.ensureBaseRules();
    expect(await applier.canaryExists()).toBe(true);
    const { stdout } = await lab.host("n").exec(["iptables-save", "-t", "nat"]);
    expect(stdout.match(/-A PREROUTING .*-j KUBE-SERVICES/g)).toHaveLength(1);
    await applier.cleanup();
    expect(await applier.canaryExists()).toBe(false);
    const after = await lab.host("n").exec(["iptables-save"]);
    // Only kubelet's KUBE-FIREWALL chain and its jumps stay, as upstream's cleanup leaves them.
    expect(after.stdout.split("\n").filter((l) => l.includes("KUBE-"))).toEqual([
      ":KUBE-FIREWALL - [0:0]",
      "-A INPUT -j KUBE-FIREWALL",
      "-A OUTPUT -j KUBE-FIREWALL",
    ]);
  });

  it("names a missing tool", async () => {
    const err = (await runCommand(["no-such-netrules-tool"], undefined).catch(
      (e: unknown) => e,
    )) as NetrulesError;
    expect(err.code).toBe("CommandNotFound");
    expect(err.message).toContain("no-such-netrules-tool");
  });
});
