import { rm } from "node:fs/promises";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createRig,
  type ProxyProcess,
  type Rig,
  realComponentsAvailable,
  serviceManifest,
  sliceManifest,
  until,
  writeText,
} from "./rig.js";

const enabled = await realComponentsAvailable();
// The issue asks for 60 s; the default keeps the suite short. KUBENODE_PROXY_OUTAGE_MS=60000 runs the full one.
const OUTAGE_MS = Number(process.env.KUBENODE_PROXY_OUTAGE_MS ?? 15_000);

describe.skipIf(!enabled)("kubenode-proxy end to end, iptables mode", () => {
  let rig: Rig;
  let proxy: ProxyProcess;
  let ep1: string;
  let ep2: string;
  let nodeIP: string;

  const clusterIP = (name: string) => rig.clusterIP(name);
  const natRules = async () => (await rig.node.exec(["iptables-save", "-t", "nat"])).stdout;
  const answers = async (ip: string, port: number, n: number, from = rig.node) => {
    const seen = new Map<string, number>();
    for (let i = 0; i < n; i++) {
      const a = await rig.request(ip, port, from);
      seen.set(a, (seen.get(a) ?? 0) + 1);
    }
    return seen;
  };

  beforeAll(async () => {
    rig = await createRig();
    ep1 = rig.lab.host("ep1").ip;
    ep2 = rig.lab.host("ep2").ip;
    nodeIP = rig.node.ip;
    proxy = await rig.startHealthyProxy([
      `--kubeconfig=${rig.kubeconfig}`,
      "--hostname-override=node",
      "--cluster-cidr=10.244.0.0/16",
      "--sync-period=3s",
      "--v=2",
    ]);
  });

  afterAll(async () => {
    if (proxy) await proxy.stop();
    await rig?.destroy();
  });

  it("makes a Service created with kubectl reachable on its ClusterIP, from the node and through it", async () => {
    await rig.kubectl(["apply", "-f", "-"], serviceManifest("web", [{ ip: ep1, nodeName: "ep1" }]));
    const ip = await clusterIP("web");
    expect(ip).toMatch(/^10\.(9[6-9]|1[01][0-9])\./);
    expect(await until(`web ${ip}:80 from the node`, () => rig.request(ip, 80))).toBe("ep1");
    // A client whose route to Service IPs goes through the node (PREROUTING path, masqueraded).
    expect(await until(`web ${ip}:80 from the client`, () => rig.request(ip, 80, rig.client))).toBe("ep1");
    const rules = await natRules();
    expect(rules).toContain(
      `-A KUBE-SERVICES -d ${ip}/32 -p tcp -m comment --comment "default/web:http cluster IP"`,
    );
  });

  it("spreads traffic over the endpoints as the EndpointSlice scales", async () => {
    const ip = await clusterIP("web");
    await rig.kubectl(
      ["apply", "-f", "-"],
      sliceManifest("web", [
        { ip: ep1, nodeName: "ep1" },
        { ip: ep2, nodeName: "ep2" },
      ]),
    );
    const both = await until("both endpoints answering", async () => {
      const seen = await answers(ip, 80, 12);
      return seen.size === 2 ? seen : undefined;
    });
    expect([...both.keys()].sort()).toEqual(["ep1", "ep2"]);
    await rig.kubectl(["apply", "-f", "-"], sliceManifest("web", [{ ip: ep2, nodeName: "ep2" }]));
    await until("only ep2 answering", async () => {
      const seen = await answers(ip, 80, 8);
      return seen.size === 1 && seen.has("ep2") ? true : undefined;
    });
  });

  it("serves a NodePort on the node's address", async () => {
    await rig.kubectl(
      ["apply", "-f", "-"],
      serviceManifest("np", [{ ip: ep1, nodeName: "ep1" }], {
        type: "NodePort",
        ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: 8080, nodePort: 30080 }],
      }),
    );
    expect(await until("NodePort 30080 from the client", () => rig.request(nodeIP, 30080, rig.client))).toBe(
      "ep1",
    );
  });

  it("counts NodePort connections to 127.0.0.1 in upstream's nfacct-backed metric", async () => {
    const metric = async (name: string) => {
      const m = new RegExp(`^${name} (\\S+)$`, "m").exec(await rig.metrics());
      if (!m) throw new Error(`${name} not in /metrics`);
      return Number(m[1]);
    };
    const localhost = "kubeproxy_iptables_localhost_nodeports_accepted_packets_total";
    const before = await metric(localhost);
    for (let i = 0; i < 3; i++) expect(await rig.request("127.0.0.1", 30080)).toBe("ep1");
    // The node's own address takes the other NodePort rule: not counted.
    expect(await rig.request(nodeIP, 30080)).toBe("ep1");
    expect(await metric(localhost)).toBe(before + 3);
    expect(await metric("kubeproxy_iptables_ct_state_invalid_dropped_packets_total")).toBeGreaterThanOrEqual(
      0,
    );
  });

  it("answers the health-check node port of an externalTrafficPolicy=Local service with the local endpoint count", async () => {
    await rig.kubectl(
      ["apply", "-f", "-"],
      serviceManifest("lb", [{ ip: ep1, nodeName: "node" }], {
        type: "LoadBalancer",
        externalTrafficPolicy: "Local",
        healthCheckNodePort: 32100,
        ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: 8080, nodePort: 30081 }],
      }),
    );
    const url = `http://${nodeIP}:32100/`;
    const ok = await until("health-check node port 32100", async () => {
      const r = await rig.httpGet(url, rig.client);
      return r.code === 200 ? r : undefined;
    });
    expect(JSON.parse(ok.body)).toEqual({
      service: { namespace: "default", name: "lb" },
      localEndpoints: 1,
      serviceProxyHealthy: true,
    });
    // The endpoint moves to another node: this node must report no local endpoint (503).
    await rig.kubectl(["apply", "-f", "-"], sliceManifest("lb", [{ ip: ep1, nodeName: "ep1" }]));
    await until("health-check 503", async () =>
      (await rig.httpGet(url, rig.client)).code === 503 ? true : undefined,
    );
  });

  it("removes the rules of a deleted Service", async () => {
    await rig.kubectl(["apply", "-f", "-"], serviceManifest("gone", [{ ip: ep1, nodeName: "ep1" }]));
    const ip = await clusterIP("gone");
    await until("gone reachable", () => rig.request(ip, 80));
    await rig.kubectl(["delete", "service", "gone"]);
    await until("gone's rules removed", async () =>
      (await natRules()).includes("default/gone") ? undefined : true,
    );
    await expect(rig.request(ip, 80)).rejects.toThrow();
  });

  it("keeps traffic flowing while the API server is down and applies the changes made meanwhile and after", async () => {
    const ip = await clusterIP("web");
    await rig.api.suspend();
    // Written while the node cannot reach the API server: seen once the informers reconnect.
    await rig.kubectl(["apply", "-f", "-"], serviceManifest("during", [{ ip: ep2, nodeName: "ep2" }]));
    const deadline = Date.now() + OUTAGE_MS;
    let served = 0;
    while (Date.now() < deadline) {
      expect(await rig.request(ip, 80)).toBe("ep2");
      served++;
      await new Promise((r) => setTimeout(r, 1000));
    }
    expect(served).toBeGreaterThan(0);
    expect((await rig.httpGet("http://127.0.0.1:10256/livez")).code).toBe(200);
    expect(proxy.output()).toContain("keeping the last programmed rules");
    await rig.api.resume();
    await rig.kubectl(["apply", "-f", "-"], serviceManifest("after", [{ ip: ep1, nodeName: "ep1" }]));
    // The informers reconnect with the reflector's jittered backoff (up to 2 x 30 s after long outages).
    const duringIP = await clusterIP("during");
    const afterIP = await clusterIP("after");
    expect(await until("service created during the outage", () => rig.request(duringIP, 80), 75_000)).toBe(
      "ep2",
    );
    expect(await until("service created after the outage", () => rig.request(afterIP, 80), 75_000)).toBe(
      "ep1",
    );
  }, 180_000);

  it("retries an apply that failed, reports it in metrics and an Event, turns unhealthy while syncs stall, and programs the change once it works", async () => {
    await writeText(rig.failMarker, "fail");
    let ip: string;
    try {
      await rig.kubectl(["apply", "-f", "-"], serviceManifest("retry", [{ ip: ep1, nodeName: "ep1" }]));
      ip = await clusterIP("retry");
      await until("a restore failure in metrics", async () =>
        /kubeproxy_sync_proxy_rules_iptables_(partial_)?restore_failures_total [1-9]/.test(
          await rig.metrics(),
        )
          ? true
          : undefined,
      );
      await expect(rig.request(ip, 80)).rejects.toThrow();
      const events = await until("a FailedToSyncProxyRules event", async () => {
        const reasons = await rig.kubectl([
          "get",
          "events",
          "-n",
          "default",
          "-o",
          "jsonpath={.items[*].reason}",
        ]);
        return reasons.includes("FailedToSyncProxyRules") ? reasons : undefined;
      });
      expect(events).toContain("FailedToSyncProxyRules");
      // Syncs stall: once the queued change is older than 2 x syncPeriod (6 s), /livez fails.
      await until("/livez 503 while syncs fail", async () =>
        (await rig.httpGet("http://127.0.0.1:10256/livez")).code === 503 ? true : undefined,
      );
      expect((await rig.httpGet("http://127.0.0.1:10256/healthz")).code).toBe(503);
    } finally {
      await rm(rig.failMarker, { force: true });
    }
    expect(await until("retry reachable after the failure clears", () => rig.request(ip, 80))).toBe("ep1");
    // The IPv4 rules work before the sync has finished (IPv6 comes next), so health follows shortly.
    await until("/livez 200 once syncs work again", async () =>
      (await rig.httpGet("http://127.0.0.1:10256/livez")).code === 200 ? true : undefined,
    );
  });

  it("recovers from a flushed ruleset at the next periodic sync", async () => {
    const ip = await clusterIP("web");
    await rig.node.exec(["nft", "flush", "ruleset"]);
    expect(await until("web reachable after the flush", () => rig.request(ip, 80))).toBe("ep2");
    // Noticed either by the canary check of a periodic sync or, when a partial sync ran first and
    // failed on the missing chains, by the full resync that follows every failure (both upstream).
    expect(proxy.output()).toMatch(/canary missing|Failed to sync proxy rules; will retry/);
  });

  it("exposes upstream metrics", async () => {
    const text = await rig.metrics();
    expect(text).toMatch(/kubeproxy_sync_proxy_rules_duration_seconds_count [1-9]/);
    expect(text).toMatch(/kubeproxy_sync_full_proxy_rules_duration_seconds_count [1-9]/);
    expect(text).toMatch(/kubeproxy_sync_partial_proxy_rules_duration_seconds_count [1-9]/);
    expect(text).toMatch(/kubeproxy_network_programming_duration_seconds_count [1-9]/);
    // A Unix time in seconds, printed as Go's writer prints it (1.7651232e+09).
    const last = Number(/^kubeproxy_sync_proxy_rules_last_timestamp_seconds (\S+)$/m.exec(text)?.[1]);
    expect(Math.abs(last - Date.now() / 1000)).toBeLessThan(3600);
    expect(text).toMatch(/kubeproxy_sync_proxy_rules_iptables_total\{table="nat"\} [1-9]/);
    expect((await rig.httpGet("http://127.0.0.1:10249/proxyMode")).body).toBe("iptables");
  });

  it("--cleanup leaves no KUBE- chain behind but kubelet's KUBE-FIREWALL", async () => {
    expect(await proxy.stop()).toBe(0);
    const { stderr } = await rig.runProxy(["--cleanup"]);
    expect(stderr).toContain("Removed every rule");
    const all =
      (await rig.node.exec(["iptables-save"])).stdout + (await rig.node.exec(["ip6tables-save"])).stdout;
    // As upstream's cleanup: the localhost firewall chain and its jumps are shared with kubelet.
    const left = all.split("\n").filter((l) => l.includes("KUBE-") && !l.includes("KUBE-FIREWALL"));
    expect(left).toEqual([]);
    expect((await rig.node.exec(["nft", "list", "tables"])).stdout).not.toContain("kube-proxy");
  });
});
