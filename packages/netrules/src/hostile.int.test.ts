import { canUseRealComponents } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IPS, labScenario, startTrafficLab, type TrafficLab, tally } from "../test/lab.js";
import { hostileCases } from "./__tests__/hostile.js";
import { createIptablesProxier } from "./iptables-applier.js";
import { buildProxyModel, type ProxyModelInput } from "./model.js";
import { createNftablesProxier } from "./nftables-applier.js";

const real = await canUseRealComponents(["iptables", "nftables", "conntrack", "iproute2"]);

const caseIP = (i: number) => `172.30.9.${i + 1}`;

/** The ruleset as the kernel holds it, without counters (which traffic changes). */
async function ruleset(t: TrafficLab, mode: "iptables" | "nftables"): Promise<string> {
  if (mode === "nftables") return (await t.node.exec(["nft", "list", "ruleset"])).stdout;
  const { stdout } = await t.node.exec(["iptables-save"]);
  return stdout
    .split("\n")
    .filter((l) => !l.startsWith("#"))
    .map((l) => l.replace(/\[\d+:\d+\]/g, "[0:0]"))
    .join("\n");
}

// Issue 13: hostile names applied for real. A name carrying iptables-restore or nft syntax must be
// reported and skipped; the kernel must end up with exactly the rules of the other objects, and
// every other Service must keep working.
describe.runIf(real)("hostile names applied in a network namespace", () => {
  let t: TrafficLab;
  let input: { hostile: ProxyModelInput; intended: ProxyModelInput };
  beforeAll(async () => {
    t = await startTrafficLab();
    const cases = hostileCases(caseIP, t.eps[2]!.ip);
    const scenario = labScenario(t);
    input = {
      hostile: {
        ...scenario,
        services: [...scenario.services, ...cases.flatMap((c) => c.services)],
        endpointSlices: [...scenario.endpointSlices, ...cases.flatMap((c) => c.endpointSlices)],
      },
      intended: {
        ...scenario,
        services: [...scenario.services, ...cases.flatMap((c) => c.intended.services)],
        endpointSlices: [...scenario.endpointSlices, ...cases.flatMap((c) => c.intended.endpointSlices)],
      },
    };
  });
  afterAll(() => t?.destroy());

  const modes = {
    iptables: {
      tool: "iptables" as const,
      make: () =>
        createIptablesProxier({ netns: t.node.netns, clusterCIDR: "10.244.0.0/16", nodeIPs: [t.node.ip] }),
    },
    "nftables upstream layout": {
      tool: "nftables" as const,
      make: () =>
        createNftablesProxier({ netns: t.node.netns, clusterCIDR: "10.244.0.0/16", nodeIPs: [t.node.ip] }),
    },
    "nftables compact layout": {
      tool: "nftables" as const,
      make: () =>
        createNftablesProxier({
          netns: t.node.netns,
          layout: "compact",
          clusterCIDR: "10.244.0.0/16",
          nodeIPs: [t.node.ip],
        }),
    },
  };

  // Issue 13 item 4: one bad entry skips that entry, not the Service; legacy leading-zero IPv4
  // (ParseIPSloppy) is read as decimal.
  const partial: ProxyModelInput["services"][number] = {
    metadata: { namespace: "lab", name: "bad-field" },
    spec: {
      clusterIP: "172.030.009.100",
      externalIPs: ["not-an-ip", "192.0.2.50"],
      ports: [{ name: "p", port: 80 }],
    },
  };
  const partialSlice = (ip: string): ProxyModelInput["endpointSlices"][number] => ({
    metadata: {
      namespace: "lab",
      name: "bad-field-1",
      labels: { "kubernetes.io/service-name": "bad-field" },
    },
    addressType: "IPv4",
    endpoints: [{ addresses: [ip], conditions: { ready: true } }],
    ports: [{ name: "p", port: 8080, protocol: "TCP" }],
  });

  for (const [name, mode] of Object.entries(modes)) {
    it(`${name}: a Service with one invalid externalIPs entry keeps its ClusterIP and other external IP`, async () => {
      await t.node.exec(["nft", "flush", "ruleset"]);
      const { model, errors } = buildProxyModel({
        nodeName: "node",
        services: [partial],
        endpointSlices: [partialSlice(t.eps[1]!.ip)],
      });
      expect(errors.map((e) => [e.field, e.skipped])).toEqual([["spec.externalIPs[0]", "field"]]);
      await mode.make().sync(model);
      expect(await t.request(t.client, "tcp", "172.30.9.100", 80, 2)).toEqual(["ep2", "ep2"]);
      expect(await t.request(t.client, "tcp", "192.0.2.50", 80, 2)).toEqual(["ep2", "ep2"]);
    });

    it(`${name}: installs exactly the intended rules, and the other Services keep working`, async () => {
      await t.node.exec(["nft", "flush", "ruleset"]);
      const intended = buildProxyModel(input.intended);
      expect(intended.errors).toEqual([]);
      await mode.make().sync(intended.model);
      const expected = await ruleset(t, mode.tool);
      await t.node.exec(["nft", "flush", "ruleset"]);

      const hostile = buildProxyModel(input.hostile);
      expect(hostile.errors.map((e) => `${e.kind} ${e.field}`)).toEqual(
        hostileCases(caseIP, t.eps[2]!.ip).map((c) => `${c.error.kind} ${c.error.field}`),
      );
      await mode.make().sync(hostile.model);
      const actual = await ruleset(t, mode.tool);
      expect(actual).toBe(expected);
      for (const needle of ["6.6.6.6", "evil", "hostile/a"]) expect(actual).not.toContain(needle);

      // The lab's Services, and the two hostile cases whose Service itself was valid.
      expect(Object.keys(tally(await t.request(t.client, "tcp", IPS.spread, 80, 30))).sort()).toEqual([
        "ep1",
        "ep2",
        "ep3",
      ]);
      expect(await t.request(t.client, "tcp", t.node.ip, 30080, 2)).toEqual(["ep2", "ep2"]);
      expect(await t.request(t.client, "tcp", IPS.empty, 80, 1, { timeoutMs: 5000 })).toEqual(["REFUSED"]);
      const cases = hostileCases(caseIP, t.eps[2]!.ip);
      const ipOf = (pick: (c: (typeof cases)[number]) => boolean) =>
        cases.find(pick)!.services[0]!.spec!.clusterIP!;
      const withGoodSlice = ipOf(
        (c) => c.error.kind === "EndpointSlice" && c.error.field === "metadata.name",
      );
      const withoutSlice = ipOf((c) => c.error.field === "ports[0].name");
      expect(await t.request(t.client, "tcp", withGoodSlice, 80, 2)).toEqual(["ep3", "ep3"]);
      expect(await t.request(t.client, "tcp", withoutSlice, 80, 1, { timeoutMs: 5000 })).toEqual(["REFUSED"]);
      // a skipped Service's ClusterIP leads nowhere
      const skipped = ipOf((c) => c.error.kind === "Service");
      expect(await t.request(t.client, "tcp", skipped, 80, 1, { timeoutMs: 700 })).not.toEqual(["ep3"]);
    });
  }
});
