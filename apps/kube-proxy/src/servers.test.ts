import { createServer } from "node:net";
import { createFakeClock, silentLogger } from "@kubenode/kube";
import { buildProxyModel } from "@kubenode/netrules";
import { afterEach, describe, expect, it } from "vitest";
import { startHealthzServer, startMetricsServer } from "./healthz-server.js";
import type { RunningServer } from "./http-util.js";
import { createProxyMetrics } from "./metrics.js";
import { createProxierHealth } from "./proxier-health.js";
import { createServiceHealthServer, type ServiceHealthServer } from "./service-health.js";

const cleanups: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function get(url: string) {
  const res = await fetch(url);
  return { code: res.status, headers: res.headers, body: await res.text() };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const port = (s.address() as { port: number }).port;
      s.close(() => resolve(port));
    });
  });
}

describe("healthz server", () => {
  it("answers /healthz and /livez like kube-proxy and counts them in metrics", async () => {
    const clock = createFakeClock(Date.UTC(2026, 0, 1));
    const health = createProxierHealth(clock, 60_000);
    const metrics = createProxyMetrics();
    const srv: RunningServer = await startHealthzServer("127.0.0.1:0", health, metrics);
    cleanups.push(() => srv.close());
    const base = `http://127.0.0.1:${srv.port}`;

    health.updated();
    let r = await get(`${base}/healthz`);
    expect(r.code).toBe(200);
    expect(r.headers.get("content-type")).toBe("application/json");
    expect(JSON.parse(r.body)).toEqual({
      lastUpdated: "2026-01-01T00:00:00.000Z",
      currentTime: "2026-01-01T00:00:00.000Z",
      nodeEligible: true,
    });

    health.queued();
    await clock.step(61_000);
    r = await get(`${base}/livez`);
    expect(r.code).toBe(503);
    expect((await get(`${base}/healthz`)).code).toBe(503);

    health.updated();
    expect((await get(`${base}/livez`)).code).toBe(200);
    // A node being deleted fails /healthz (drain) but not /livez (do not restart the proxy).
    health.setNode({ metadata: { deletionTimestamp: "2026-01-01T00:00:00Z" } });
    r = await get(`${base}/healthz`);
    expect(r.code).toBe(503);
    expect(JSON.parse(r.body).nodeEligible).toBe(false);
    expect((await get(`${base}/livez`)).code).toBe(200);
    health.setNode({ spec: { taints: [{ key: "ToBeDeletedByClusterAutoscaler" }] } });
    expect((await get(`${base}/healthz`)).code).toBe(503);
    health.setNode({ spec: {} });
    expect((await get(`${base}/healthz`)).code).toBe(200);

    expect(metrics.healthzTotal.get({ code: "200" })).toBe(2);
    expect(metrics.healthzTotal.get({ code: "503" })).toBe(3);
    expect(metrics.livezTotal.get({ code: "503" })).toBe(1);
    expect((await get(`${base}/other`)).code).toBe(404);
  });
});

describe("metrics server", () => {
  it("serves Prometheus text with upstream metric names, /proxyMode and /configz", async () => {
    const metrics = createProxyMetrics();
    metrics.syncDuration.observe(0.004);
    metrics.lastSyncTimestamp.set(1767225600);
    metrics.iptablesRules.set(12, { table: "nat" });
    const srv = await startMetricsServer("127.0.0.1:0", metrics, {
      mode: "iptables",
      configz: () => ({ mode: "" }),
    });
    cleanups.push(() => srv.close());
    const base = `http://127.0.0.1:${srv.port}`;
    const r = await get(`${base}/metrics`);
    expect(r.code).toBe(200);
    expect(r.headers.get("content-type")).toContain("version=0.0.4");
    expect(r.body).toContain("# TYPE kubeproxy_sync_proxy_rules_duration_seconds histogram");
    expect(r.body).toContain('kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="0.004"} 1');
    expect(r.body).toContain('kubeproxy_sync_proxy_rules_duration_seconds_bucket{le="0.002"} 0');
    expect(r.body).toContain("kubeproxy_sync_proxy_rules_duration_seconds_count 1");
    expect(r.body).toContain("kubeproxy_sync_proxy_rules_last_timestamp_seconds 1.7672256e+09");
    expect(r.body).toContain('kubeproxy_sync_proxy_rules_iptables_total{table="nat"} 12');
    expect(r.body).toContain("# TYPE kubeproxy_network_programming_duration_seconds histogram");
    expect(r.body).toContain("kubeproxy_sync_proxy_rules_endpoint_changes_total 0");
    expect((await get(`${base}/proxyMode`)).body).toBe("iptables");
    expect(JSON.parse((await get(`${base}/configz`)).body)).toEqual({ kubeproxy: { mode: "" } });
  });
});

describe("service health-check node ports", () => {
  function lbService(port: number) {
    return {
      metadata: { namespace: "web", name: "front" },
      spec: {
        type: "LoadBalancer",
        clusterIP: "10.96.0.20",
        clusterIPs: ["10.96.0.20"],
        externalTrafficPolicy: "Local",
        healthCheckNodePort: port,
        ports: [{ name: "http", port: 80, protocol: "TCP", nodePort: 30080 }],
      },
    };
  }
  function slice(eps: { ip: string; node: string; ready?: boolean }[]) {
    return {
      metadata: { namespace: "web", name: "front-1", labels: { "kubernetes.io/service-name": "front" } },
      addressType: "IPv4",
      endpoints: eps.map((e) => ({
        addresses: [e.ip],
        nodeName: e.node,
        conditions: { ready: e.ready ?? true },
      })),
      ports: [{ name: "http", port: 8080, protocol: "TCP" }],
    };
  }

  it("answers with the local ready endpoint count, 503 without one, and closes with the service", async () => {
    const clock = createFakeClock(Date.UTC(2026, 0, 1));
    const health = createProxierHealth(clock, 60_000);
    const shs: ServiceHealthServer = createServiceHealthServer({
      hosts: ["127.0.0.1"],
      health,
      log: silentLogger,
    });
    cleanups.push(() => shs.close());
    const port = await freePort();
    const model = (eps: { ip: string; node: string; ready?: boolean }[]) =>
      buildProxyModel({ services: [lbService(port)], endpointSlices: [slice(eps)], nodeName: "node-a" })
        .model;

    await shs.sync(
      model([
        { ip: "10.1.0.1", node: "node-a" },
        { ip: "10.1.0.2", node: "node-a" },
        { ip: "10.1.0.3", node: "node-b" },
        { ip: "10.1.0.4", node: "node-a", ready: false },
      ]),
    );
    expect(shs.ports().get("web/front")).toBe(port);
    let r = await get(`http://127.0.0.1:${port}/`);
    expect(r.code).toBe(200);
    expect(r.headers.get("x-load-balancing-endpoint-weight")).toBe("2");
    expect(JSON.parse(r.body)).toEqual({
      service: { namespace: "web", name: "front" },
      localEndpoints: 2,
      serviceProxyHealthy: true,
    });

    await shs.sync(model([{ ip: "10.1.0.3", node: "node-b" }]));
    r = await get(`http://127.0.0.1:${port}/`);
    expect(r.code).toBe(503);
    expect(JSON.parse(r.body).localEndpoints).toBe(0);

    await shs.sync(buildProxyModel({ services: [], endpointSlices: [], nodeName: "node-a" }).model);
    expect(shs.ports().size).toBe(0);
    await expect(fetch(`http://127.0.0.1:${port}/`)).rejects.toThrow();
  });
});
