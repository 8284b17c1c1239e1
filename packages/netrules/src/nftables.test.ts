import { createFakeClock } from "@kubenode/kube";
import { describe, expect, it } from "vitest";
import { ep, slice, svc } from "./__tests__/fixtures.js";
import { featureScenario } from "./__tests__/scenario.js";
import { buildProxyModel, type ProxyModelInput } from "./model.js";
import { createNftablesBackend } from "./nftables.js";

const opts = { clusterCIDR: "10.0.0.0/8", nodeIPs: ["192.168.0.2"] };

function withSlices(
  input: ProxyModelInput,
  ns: string,
  replacement: ReturnType<typeof slice>,
): ProxyModelInput {
  return {
    ...input,
    endpointSlices: input.endpointSlices.map((s) => (s.metadata?.namespace === ns ? replacement : s)),
  };
}

describe("nftables backend", () => {
  it("uses upstream chain names and matches the golden full transaction", async () => {
    const { model } = buildProxyModel(featureScenario());
    const r = createNftablesBackend(opts).sync(model);
    expect(r.full).toBe(true);
    expect(r.payload).toContain("add chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80\n");
    expect(r.payload).toContain(
      "add chain ip kube-proxy endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80\n",
    );
    expect(r.payload).toContain(
      "add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 2 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80, 1 : goto ",
    );
    await expect(r.payload).toMatchFileSnapshot("./__golden__/nftables-full.nft");
  });

  it("matches the golden compact-layout transaction", async () => {
    const { model } = buildProxyModel(featureScenario());
    const r = createNftablesBackend({ ...opts, layout: "compact" }).sync(model);
    expect(r.payload).not.toContain("endpoint-5OJB2KTY");
    // plain services have no chain of their own: a shared chain per endpoint count picks the endpoint
    expect(r.payload).toContain("172.30.0.41 . tcp . 80 : goto lb-2");
    expect(r.payload).toContain(
      "172.30.0.41 . tcp . 80 . 0 : 10.180.0.1 . 80, 172.30.0.41 . tcp . 80 . 1 : 10.180.1.1 . 80",
    );
    expect(r.payload).toContain(
      "add rule ip kube-proxy lb-2 meta l4proto { tcp, udp, sctp } dnat ip to ip daddr . meta l4proto . th dport . numgen random mod 2 map @flat-endpoints",
    );
    expect(r.payload).not.toContain("service-ULMVA6XW");
    // ETP Local services keep their own chains
    expect(r.payload).toContain("add chain ip kube-proxy external-42NFTM6N-ns2/svc2/tcp/p80");
    // ClientIP affinity keeps per-endpoint chains and sets in the compact layout too
    expect(r.payload).toMatch(
      /add set ip kube-proxy affinity-\S+ \{ type ipv4_addr; flags dynamic,timeout; timeout 300s; \}/,
    );
    await expect(r.payload).toMatchFileSnapshot("./__golden__/nftables-compact.nft");
  });

  it("sends only the difference in an incremental sync and deletes stale chains a second later", async () => {
    const clock = createFakeClock();
    const backend = createNftablesBackend({ ...opts, clock });
    const input = featureScenario();
    const m1 = buildProxyModel(input).model;
    backend.sync(m1);
    const changed = withSlices(
      input,
      "ns1",
      slice("ns1", "svc1", [ep("10.180.0.1")], [{ name: "p80", port: 80 }]),
    );
    const m2 = buildProxyModel(changed, { previous: m1 }).model;
    const r2 = backend.sync(m2);
    expect(r2.full).toBe(false);
    expect(r2.changedServicePorts).toBe(1);
    expect(r2.elementsAdded + r2.elementsDeleted).toBe(0);
    const lines = r2.payload.trim().split("\n");
    expect(lines).toContain("flush chain ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80");
    expect(lines).toContain(
      "add rule ip kube-proxy service-ULMVA6XW-ns1/svc1/tcp/p80 numgen random mod 1 vmap { 0 : goto endpoint-5OJB2KTY-ns1/svc1/tcp/p80__10.180.0.1/80 }",
    );
    const staleChain = lines.find((l) => l.startsWith("flush chain") && l.includes("__10.180.1.1/80"));
    expect(staleChain).toBeDefined();
    expect(r2.deletedChains).toEqual([]);
    expect(lines.every((l) => !l.includes("ns2/svc2"))).toBe(true);

    await clock.step(500);
    const r3 = backend.sync(buildProxyModel(changed, { previous: m2 }).model);
    expect(r3.payload).toBe("");
    await clock.step(600);
    const r4 = backend.sync(buildProxyModel(changed, { previous: m2 }).model);
    expect(r4.deletedChains).toEqual([staleChain!.replace("flush chain ip kube-proxy ", "")]);
    expect(r4.payload).toBe(`delete chain ip kube-proxy ${r4.deletedChains[0]}\n`);
  });

  it("moves a service between the no-endpoint map and the service map with element diffs", () => {
    const backend = createNftablesBackend(opts);
    const input = featureScenario();
    const m1 = buildProxyModel(input).model;
    backend.sync(m1);
    const withEndpoint: ProxyModelInput = {
      ...input,
      endpointSlices: [
        ...input.endpointSlices,
        slice("ns4", "svc4", [ep("10.180.0.4")], [{ name: "p80", port: 80 }]),
      ],
    };
    const r = backend.sync(buildProxyModel(withEndpoint, { previous: m1 }).model);
    expect(r.payload).toContain(
      "delete element ip kube-proxy no-endpoint-services { 172.30.0.44 . tcp . 80 }",
    );
    expect(r.payload).toMatch(
      /add element ip kube-proxy service-ips \{ 172\.30\.0\.44 \. tcp \. 80 : goto service-\S+-ns4\/svc4\/tcp\/p80 \}/,
    );
    expect(r.payload).not.toContain("cluster-ips");
  });

  it("keeps a ClusterIP shared by two ports while one of them remains", () => {
    const backend = createNftablesBackend(opts);
    const two = {
      nodeName: "n",
      services: [
        svc("ns", "s", {
          clusterIP: "10.96.0.10",
          ports: [
            { name: "a", port: 53, protocol: "UDP" },
            { name: "b", port: 53 },
          ],
        }),
      ],
      endpointSlices: [],
    };
    const m1 = buildProxyModel(two).model;
    const full = backend.sync(m1);
    expect(full.payload.match(/10\.96\.0\.10 \}/g)?.length ?? 0).toBeLessThanOrEqual(1);
    const one = {
      ...two,
      services: [
        svc("ns", "s", { clusterIP: "10.96.0.10", ports: [{ name: "a", port: 53, protocol: "UDP" }] }),
      ],
    };
    const r = backend.sync(buildProxyModel(one, { previous: m1 }).model);
    expect(r.payload).toContain(
      "delete element ip kube-proxy no-endpoint-services { 10.96.0.10 . tcp . 53 }",
    );
    expect(r.payload).not.toContain("cluster-ips");
  });

  it("writes an ip6 table for IPv6 service ports", () => {
    const { model } = buildProxyModel({
      nodeName: "n",
      services: [svc("ns", "v6", { clusterIPs: ["fd00::10"], ports: [{ port: 80 }] })],
      endpointSlices: [slice("ns", "v6", [ep("fd01::1")], [{ port: 8080 }], "IPv6")],
    });
    const r = createNftablesBackend({ family: "IPv6" }).sync(model);
    expect(r.payload).toContain("table ip6 kube-proxy {");
    expect(r.payload).toContain("dnat to [fd01::1]:8080");
    expect(r.payload).toContain("endpoint-");
    expect(r.payload).toContain("__fd01..1/8080");
    expect(r.payload).toContain("fib daddr type local ip6 daddr != ::1");
  });

  it("starts over with a full transaction after invalidate()", () => {
    const backend = createNftablesBackend(opts);
    const { model } = buildProxyModel(featureScenario());
    backend.sync(model);
    backend.invalidate();
    expect(backend.sync(model).full).toBe(true);
  });

  it("rejects bad options", () => {
    expect(() => createNftablesBackend({ tableName: "bad name" })).toThrow(/invalid table name "bad name"/);
    expect(() => createNftablesBackend({ serviceCIDRs: ["nope"] })).toThrow(
      /serviceCIDRs: invalid CIDR "nope"/,
    );
  });

  it("restricts NodePorts to --nodeport-addresses through the nodeport-ips set", () => {
    const { model } = buildProxyModel(featureScenario());
    const r = createNftablesBackend({
      ...opts,
      nodeIPs: ["192.168.0.2", "10.9.9.9"],
      nodePortAddresses: ["192.168.0.0/24"],
    }).sync(model);
    expect(r.payload).toContain("add element ip kube-proxy nodeport-ips { 192.168.0.2 }");
    expect(r.payload).toContain("ip daddr @nodeport-ips meta l4proto . th dport vmap @service-nodeports");
    expect(r.payload).not.toContain("fib daddr type local");
  });

  it("drops traffic to unallocated ClusterIPs of the service CIDRs", () => {
    const { model } = buildProxyModel(featureScenario());
    const r = createNftablesBackend({ ...opts, serviceCIDRs: ["172.30.0.0/16", "fd00::/108"] }).sync(model);
    expect(r.payload).toContain(
      'ip daddr { 172.30.0.0/16 } drop comment "Drop traffic to unallocated ClusterIPs"',
    );
  });

  it("rewrites an existing table in place on a full sync, keeping the affinity sets in use", async () => {
    // As kube-proxy's full sync (setupNFTables + ensureChain: add, then flush; affinity sets only
    // added): the table is not deleted, so ClientIP affinity entries survive a resync or restart.
    const { model } = buildProxyModel(featureScenario());
    const clock = createFakeClock();
    const backend = createNftablesBackend({ clusterCIDR: "10.0.0.0/8", nodeIPs: ["192.168.0.2"], clock });
    const fresh = createNftablesBackend({ clusterCIDR: "10.0.0.0/8", nodeIPs: ["192.168.0.2"] }).sync(
      model,
    ).payload;
    const wantedSet = /add set ip kube-proxy (affinity-\S+)/.exec(fresh)![1]!;
    const existing = {
      chains: ["services", "service-OLDOLDOL-ns9/gone/tcp/p80", "canary"],
      sets: ["cluster-ips", wantedSet, "affinity-OLDOLDOL-ns9/gone/tcp/p80__10.9.9.9/80"],
      maps: ["service-ips", "flat-endpoints"],
    };
    const lines = backend.sync(model, { full: true, existing }).payload.split("\n");
    expect(lines.slice(0, 2)).toEqual(["add table ip kube-proxy", "flush table ip kube-proxy"]);
    expect(lines).not.toContain("delete table ip kube-proxy");
    expect(lines).toContain("flush set ip kube-proxy cluster-ips");
    expect(lines).toContain("flush map ip kube-proxy service-ips");
    expect(lines.filter((l) => l.startsWith("delete "))).toEqual([
      "delete set ip kube-proxy affinity-OLDOLDOL-ns9/gone/tcp/p80__10.9.9.9/80",
      "delete map ip kube-proxy flat-endpoints",
    ]);
    // the set in use is added (which keeps its entries), never deleted
    expect(lines.filter((l) => l.includes(wantedSet) && l.startsWith("add set"))).toHaveLength(1);
    // the stale chain (emptied by `flush table`) is deleted by a sync at least a second later
    await clock.step(999);
    expect(backend.sync(model).deletedChains).toEqual([]);
    await clock.step(1);
    expect(backend.sync(model).deletedChains).toEqual(["service-OLDOLDOL-ns9/gone/tcp/p80"]);
  });

  it("compact layout: masquerades hairpin flows of local endpoints and of endpoints with no node", () => {
    // Upstream masquerades an endpoint reaching itself in every endpoint chain; the compact layout
    // needs the element for every endpoint whose hairpin flow can pass through this node.
    const { model } = buildProxyModel({
      nodeName: "node-a",
      services: [svc("ns", "s", { clusterIP: "172.30.0.1", ports: [{ name: "p", port: 80 }] })],
      endpointSlices: [
        slice(
          "ns",
          "s",
          [ep("10.1.0.1", "node-a"), ep("10.1.0.2", "node-b"), { addresses: ["10.1.0.3"] }],
          [{ name: "p", port: 8080 }],
        ),
      ],
    });
    const { payload } = createNftablesBackend({ layout: "compact" }).sync(model);
    const hairpin = payload.split("\n").filter((l) => l.includes(" hairpin-endpoints { 10."));
    expect(hairpin).toEqual([
      "add element ip kube-proxy hairpin-endpoints { 10.1.0.1 . 10.1.0.1, 10.1.0.3 . 10.1.0.3 }",
    ]);
  });

  it("moves a compact-layout service to the shared chain of its new endpoint count", () => {
    const backend = createNftablesBackend({ ...opts, layout: "compact" });
    const input = featureScenario();
    const m1 = buildProxyModel(input).model;
    backend.sync(m1);
    const changed = withSlices(
      input,
      "ns1",
      slice("ns1", "svc1", [ep("10.180.0.1")], [{ name: "p80", port: 80 }]),
    );
    const r = backend.sync(buildProxyModel(changed, { previous: m1 }).model);
    const lines = r.payload.trim().split("\n");
    expect(lines).toContain("delete element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 }");
    expect(lines).toContain("add element ip kube-proxy service-ips { 172.30.0.41 . tcp . 80 : goto lb-1 }");
    expect(lines).toContain("delete element ip kube-proxy flat-endpoints { 172.30.0.41 . tcp . 80 . 1 }");
    // index 0 still points at 10.180.0.1:80: untouched
    expect(r.payload).not.toContain("172.30.0.41 . tcp . 80 . 0");
    // lb-1 already exists (svc3 has one endpoint), so no chain is added
    expect(r.payload).not.toContain("add chain");
    expect(r.changedServicePorts).toBe(1);
  });

  it("compact layout: a new endpoint count rewrites the table in place, declaring the endpoint maps anew", () => {
    // nft 1.0.6 cannot add a rule naming a `typeof` map already in the kernel ("conflicting
    // protocols specified"), so the first service with a new endpoint count makes the sync full.
    const backend = createNftablesBackend({ ...opts, layout: "compact" });
    const input = featureScenario();
    const m1 = buildProxyModel(input).model;
    backend.sync(m1);
    const eps = ["10.180.0.1", "10.180.0.2", "10.180.0.3", "10.180.0.4", "10.180.0.5"].map((ip) => ep(ip));
    const changed = withSlices(input, "ns1", slice("ns1", "svc1", eps, [{ name: "p80", port: 80 }]));
    const r = backend.sync(buildProxyModel(changed, { previous: m1 }).model);
    expect(r.full).toBe(true);
    const lines = r.payload.split("\n");
    expect(lines.slice(0, 2)).toEqual(["add table ip kube-proxy", "flush table ip kube-proxy"]);
    expect(lines).toContain("delete map ip kube-proxy flat-endpoints");
    expect(lines).toContain("add chain ip kube-proxy lb-5");
    // the next change with a known count is incremental again
    const moved = withSlices(
      input,
      "ns1",
      slice("ns1", "svc1", [...eps.slice(1), ep("10.180.0.9")], [{ name: "p80", port: 80 }]),
    );
    expect(backend.sync(buildProxyModel(moved).model).full).toBe(false);
  });
});
