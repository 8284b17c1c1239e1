import { createFakeClock } from "@kubenode/kube";
import { canUseRealComponents } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { IPS, labScenario, startTrafficLab, type TrafficLab, tally } from "../test/lab.js";
import { buildProxyModel, type ProxyModel } from "./model.js";
import { createNftablesProxier } from "./nftables-applier.js";

const real = await canUseRealComponents(["nftables", "conntrack", "iproute2"]);

// Issue 13 item 5: kube-proxy rewrites its nftables table in place on a full sync, so the ClientIP
// affinity sets keep their entries across a restart or a resync and clients stay on their
// endpoint. (Deleting and recreating the table, as a full sync used to, empties them.)
for (const layout of ["upstream", "compact"] as const) {
  describe.runIf(real)(`ClientIP affinity across full nftables syncs (${layout} layout)`, () => {
    let t: TrafficLab;
    let model: ProxyModel;
    const make = () =>
      createNftablesProxier({
        netns: t.node.netns,
        layout,
        clusterCIDR: "10.244.0.0/16",
        nodeIPs: [t.node.ip],
      });
    /** The affinity sets' entries: "set-name client-ip" pairs. */
    const affinityEntries = async () => {
      const { stdout } = await t.node.exec(["nft", "-j", "list", "sets", "table", "ip", "kube-proxy"]);
      const doc = JSON.parse(stdout) as {
        nftables: { set?: { name: string; elem?: ({ elem: { val: string } } | string)[] } }[];
      };
      const out: string[] = [];
      for (const { set } of doc.nftables) {
        if (!set?.name.startsWith("affinity-")) continue;
        for (const e of set.elem ?? []) out.push(`${set.name} ${typeof e === "string" ? e : e.elem.val}`);
      }
      return out.sort();
    };
    /** The one endpoint every connection of `client` to the affinity Service lands on. */
    const pinnedEndpoint = async () => {
      const counts = tally(await t.request(t.client, "tcp", IPS.affinity, 80, 10));
      expect(Object.keys(counts)).toHaveLength(1);
      return Object.keys(counts)[0]!;
    };

    beforeAll(async () => {
      t = await startTrafficLab();
      const built = buildProxyModel(labScenario(t));
      expect(built.errors).toEqual([]);
      model = built.model;
    });
    afterAll(() => t?.destroy());

    it("keeps the affinity entries and the client's endpoint through a forced full sync and a restart", async () => {
      const first = make();
      expect((await first.sync(model)).full).toBe(true);
      const endpoint = await pinnedEndpoint();
      const entries = await affinityEntries();
      expect(entries).toHaveLength(1);
      expect(entries[0]).toMatch(new RegExp(` ${t.client.ip.replaceAll(".", "\\.")}$`));

      // A full resync of the same process (what a failed apply or the hourly resync does).
      expect((await first.sync(model, { full: true })).full).toBe(true);
      expect(await affinityEntries()).toEqual(entries);
      expect(await pinnedEndpoint()).toBe(endpoint);

      // A new process: its first sync is full and finds the table of the previous one.
      expect((await make().sync(model)).full).toBe(true);
      expect(await affinityEntries()).toEqual(entries);
      expect(await pinnedEndpoint()).toBe(endpoint);
    });

    it("removes what the new model no longer has: stale affinity sets at once, stale chains a second later", async () => {
      // The affinity Service loses ClientIP affinity while no proxier runs (a restart).
      const input = labScenario(t);
      const services = input.services.map((s) =>
        s.metadata?.name === "affinity" ? { ...s, spec: { ...s.spec, sessionAffinity: "None" } } : s,
      );
      const next = buildProxyModel({ ...input, services }).model;
      const clock = createFakeClock();
      const proxier = createNftablesProxier({
        netns: t.node.netns,
        layout,
        clusterCIDR: "10.244.0.0/16",
        nodeIPs: [t.node.ip],
        staleChainDelayMs: 1000,
        clock,
      });
      await proxier.sync(next);
      expect(await affinityEntries()).toEqual([]);
      await clock.step(1000);
      await proxier.sync(next);
      // what is left equals what a proxier writes into an empty namespace
      // (line by line, sorted: hash sets list their elements in a per-set random order)
      const table = async () =>
        (await t.node.exec(["nft", "list", "table", "ip", "kube-proxy"])).stdout.split("\n").sort();
      const inPlace = await table();
      await t.node.exec(["nft", "delete", "table", "ip", "kube-proxy"]);
      await make().sync(next);
      expect(inPlace).toEqual(await table());
      expect(
        Object.keys(tally(await t.request(t.client, "tcp", IPS.affinity, 80, 30))).length,
      ).toBeGreaterThan(1);
    });
  });
}
