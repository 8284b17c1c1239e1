import { canUseRealComponents, createNetworkLab, type NetworkLab } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { NetrulesError } from "./errors.js";
import { runCommand } from "./exec.js";
import { createIptablesApplier } from "./iptables-applier.js";
import { buildProxyModel } from "./model.js";
import { createNftablesApplier, createNftablesProxier } from "./nftables-applier.js";

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

  it("compact layout: a service reaching an endpoint count no other has is applied by nft", async () => {
    // nft 1.0.6 rejects a new rule naming a `typeof` map already in the kernel ("conflicting
    // protocols specified"); the backend turns such a sync into an in-place full one.
    const netns = lab.host("n").netns;
    const proxier = createNftablesProxier({ netns, layout: "compact", tableName: "compact-test" });
    const model = (n: number) =>
      buildProxyModel({
        nodeName: "n",
        services: [
          {
            metadata: { namespace: "ns", name: "a" },
            spec: { clusterIP: "172.30.0.1", ports: [{ port: 80 }] },
          },
        ],
        endpointSlices: [
          {
            metadata: { namespace: "ns", name: "a-1", labels: { "kubernetes.io/service-name": "a" } },
            addressType: "IPv4",
            endpoints: Array.from({ length: n }, (_, i) => ({
              addresses: [`10.1.0.${i + 1}`],
              nodeName: "x",
            })),
            ports: [{ port: 8080, protocol: "TCP" }],
          },
        ],
      }).model;
    await proxier.sync(model(2));
    expect((await proxier.sync(model(3))).full).toBe(true);
    const { stdout } = await lab.host("n").exec(["nft", "list", "chain", "ip", "compact-test", "lb-3"]);
    expect(stdout).toContain("numgen random mod 3 map @flat-endpoints");
    expect((await proxier.sync(model(3))).full).toBe(false);
    await proxier.applier.cleanup("ip", "compact-test");
  });

  it("names a missing tool", async () => {
    const err = (await runCommand(["no-such-netrules-tool"], undefined).catch(
      (e: unknown) => e,
    )) as NetrulesError;
    expect(err.code).toBe("CommandNotFound");
    expect(err.message).toContain("no-such-netrules-tool");
  });
});
