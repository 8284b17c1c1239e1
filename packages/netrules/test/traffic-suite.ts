import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildProxyModel, type ProxyModel, type ProxyModelInput } from "../src/model.js";
import { IPS, labScenario, startTrafficLab, type TrafficLab, tally } from "./lab.js";

/** What a traffic test needs from a backend under test. */
export interface ProxierUnderTest {
  /** Programs the model into the node's namespace (both families). */
  sync(
    model: ProxyModel,
  ): Promise<{ full: boolean; recoveredFromFlush: boolean; conntrackFlowsDeleted: number }>;
  /** Wipes the node's ruleset behind the proxier's back (what a firewall reload does). */
  flushRuleset(): Promise<void>;
}

/**
 * The IPv4 and IPv6 proxiers of the lab's node as one proxier under test; `flushRuleset` wipes
 * every table of the node's namespace.
 */
export function dualStack(
  t: TrafficLab,
  v4: Pick<ProxierUnderTest, "sync">,
  v6: Pick<ProxierUnderTest, "sync">,
): ProxierUnderTest {
  return {
    async sync(model) {
      const a = await v4.sync(model);
      const b = await v6.sync(model);
      return {
        full: a.full && b.full,
        recoveredFromFlush: a.recoveredFromFlush && b.recoveredFromFlush,
        conntrackFlowsDeleted: a.conntrackFlowsDeleted + b.conntrackFlowsDeleted,
      };
    },
    async flushRuleset() {
      await t.node.exec(["nft", "flush", "ruleset"]);
    },
  };
}

/**
 * Real traffic through rules applied in network namespaces: a client namespace talks to Service
 * IPs routed through the node namespace, whose rules DNAT to servers in endpoint namespaces.
 */
export function describeTraffic(
  name: string,
  make: (t: TrafficLab) => ProxierUnderTest,
  real: boolean,
): void {
  describe.runIf(real)(name, () => {
    let t: TrafficLab;
    let proxier: ProxierUnderTest;
    let model: ProxyModel;
    const program = async (input: ProxyModelInput) => {
      const built = buildProxyModel(input, { previous: model });
      expect(built.errors).toEqual([]);
      model = built.model;
      return proxier.sync(model);
    };

    beforeAll(async () => {
      t = await startTrafficLab();
      proxier = make(t);
      const r = await program(labScenario(t));
      expect(r.full).toBe(true);
    });
    afterAll(() => t?.destroy());

    it("spreads ClusterIP connections over every endpoint", async () => {
      const counts = tally(await t.request(t.client, "tcp", IPS.spread, 80, 90));
      // 90 connections over 3 endpoints: each gets 30 on average; 12 is more than 4 sigma below.
      expect(Object.keys(counts).sort()).toEqual(["ep1", "ep2", "ep3"]);
      for (const n of Object.values(counts)) expect(n).toBeGreaterThanOrEqual(12);
    });

    it("keeps a client on one endpoint with ClientIP affinity", async () => {
      const counts = tally(await t.request(t.client, "tcp", IPS.affinity, 80, 20));
      expect(Object.keys(counts)).toHaveLength(1);
      expect(Object.values(counts)[0]).toBe(20);
    });

    it("serves a NodePort from another namespace", async () => {
      expect(await t.request(t.client, "tcp", t.node.ip, 30080, 3)).toEqual(["ep2", "ep2", "ep2"]);
    });

    it("sends externalTrafficPolicy Local traffic to local endpoints only, and drops it without one", async () => {
      expect(tally(await t.request(t.client, "tcp", t.node.ip, 30081, 20))).toEqual({ ep1: 20 });
      expect(await t.request(t.client, "tcp", t.node.ip, 30082, 1, { timeoutMs: 700 })).toEqual(["TIMEOUT"]);
    });

    it("sends internalTrafficPolicy Local ClusterIP traffic to local endpoints only", async () => {
      expect(tally(await t.request(t.client, "tcp", IPS.itpLocal, 80, 20))).toEqual({ ep1: 20 });
    });

    it("refuses connections to a service without endpoints immediately", async () => {
      // REJECT answers at once with "connection refused"; a DROP would show as TIMEOUT.
      expect(await t.request(t.client, "tcp", IPS.empty, 80, 2, { timeoutMs: 5000 })).toEqual([
        "REFUSED",
        "REFUSED",
      ]);
    });

    it("falls back to serving terminating endpoints", async () => {
      expect(tally(await t.request(t.client, "tcp", IPS.terminating, 80, 5))).toEqual({ ep3: 5 });
    });

    it("enforces loadBalancerSourceRanges", async () => {
      expect(await t.request(t.client, "tcp", IPS.lb, 80, 2)).toEqual(["ep2", "ep2"]);
      expect(await t.request(t.client2, "tcp", IPS.lb, 80, 1, { timeoutMs: 700 })).toEqual(["TIMEOUT"]);
    });

    it("reaches an IPv6 ClusterIP", async () => {
      expect(await t.request(t.client, "tcp", IPS.dual6, 80, 2)).toEqual(["ep1", "ep1"]);
      expect(Object.keys(tally(await t.request(t.client, "tcp", IPS.dual4, 80, 20))).sort()).toEqual([
        "ep1",
        "ep2",
      ]);
    });

    it("clears stale UDP conntrack entries when the endpoint changes", async () => {
      const localPort = 40000 + Math.floor(Math.random() * 1000);
      expect(await t.request(t.client, "udp", IPS.udp, 53, 2, { localPort })).toEqual(["ep1", "ep1"]);
      const r = await program(labScenario(t, { udpEndpoint: 1 }));
      expect(r.full).toBe(false);
      expect(r.conntrackFlowsDeleted).toBeGreaterThanOrEqual(1);
      // Same client socket: without the cleanup the old flow would still lead to ep1.
      expect(await t.request(t.client, "udp", IPS.udp, 53, 2, { localPort })).toEqual(["ep2", "ep2"]);
    });

    // 100 syncs x 2 families x (flush probe + restore) tool runs: ~1 min on a quiet machine,
    // several on a loaded one. Correctness is what is checked here; speed is the bench's job.
    it("keeps untouched services working through 100 partial resyncs", async () => {
      const loop = await t.startLoop(t.client, IPS.spread, 80);
      for (let i = 0; i < 100; i++) {
        const r = await program(labScenario(t, { udpEndpoint: 1, partialEndpoint: 1 + (i % 2) }));
        expect(r.full).toBe(false);
      }
      const { ok, failed, errors } = await loop.stop();
      // Every request answered by an endpoint: a missing rule shows as REFUSED (REJECT, or an
      // endpoint without a listener) or as no answer within 10 s. Not asserted: SYN retransmits,
      // which CPU load alone causes (50-163 in a run at load 30-60, the compact layout included,
      // whose resyncs never touch this Service's rules).
      expect({ failed, errors }).toEqual({ failed: 0, errors: {} });
      expect(ok).toBeGreaterThan(0);
      // the service that changed on every sync ends on the last endpoint programmed
      expect(await t.request(t.client, "tcp", IPS.partial, 80, 2)).toEqual(["ep3", "ep3"]);
    }, 600_000);

    it("notices a flushed ruleset and resyncs everything", async () => {
      await proxier.flushRuleset();
      expect(await t.request(t.client, "tcp", IPS.spread, 80, 1, { timeoutMs: 700 })).not.toEqual(["ep1"]);
      const r = await proxier.sync(model);
      expect(r.recoveredFromFlush).toBe(true);
      expect(r.full).toBe(true);
      expect(tally(await t.request(t.client, "tcp", t.node.ip, 30081, 5))).toEqual({ ep1: 5 });
    });
  });
}
