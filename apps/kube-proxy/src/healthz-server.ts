import { listen, type RunningServer, sendJson, sendText, splitHostPort } from "./http-util.js";
import type { ProxyMetrics } from "./metrics.js";
import type { ProxierHealth } from "./proxier-health.js";

const iso = (ms: number | undefined) => (ms === undefined ? "" : new Date(ms).toISOString());

/**
 * Serves /healthz and /livez on healthzBindAddress (default 0.0.0.0:10256), like kube-proxy:
 * /livez is 503 when queued changes stall; /healthz is also 503 while this node is being deleted
 * (so load balancers drain it first).
 */
export function startHealthzServer(
  address: string,
  health: ProxierHealth,
  metrics: ProxyMetrics,
): Promise<RunningServer> {
  const { host, port } = splitHostPort(address);
  return listen(host, port, (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    const s = health.status();
    if (path === "/healthz") {
      const ok = s.healthy && s.nodeEligible;
      const code = ok ? 200 : 503;
      metrics.healthzTotal.inc({ code: String(code) });
      sendJson(res, code, {
        lastUpdated: iso(s.lastUpdatedMs),
        currentTime: iso(s.nowMs),
        nodeEligible: s.nodeEligible,
      });
    } else if (path === "/livez") {
      const code = s.healthy ? 200 : 503;
      metrics.livezTotal.inc({ code: String(code) });
      sendJson(res, code, { lastUpdated: iso(s.lastUpdatedMs), currentTime: iso(s.nowMs) });
    } else sendText(res, 404, "404 page not found\n");
  });
}

/**
 * Serves Prometheus metrics on metricsBindAddress (default 127.0.0.1:10249), plus kube-proxy's
 * /proxyMode, /configz and /healthz helpers.
 */
export function startMetricsServer(
  address: string,
  metrics: ProxyMetrics,
  info: {
    mode: string;
    configz: () => unknown;
    /** Brings values read from the kernel up to date before a scrape renders (nfacct counters). */
    beforeScrape?: () => Promise<void>;
  },
): Promise<RunningServer> {
  const { host, port } = splitHostPort(address);
  const scrape = async () => {
    await info.beforeScrape?.();
    return metrics.registry.render();
  };
  return listen(host, port, (req, res) => {
    const path = (req.url ?? "/").split("?")[0];
    if (path === "/metrics")
      void scrape().then((text) => sendText(res, 200, text, "text/plain; version=0.0.4; charset=utf-8"));
    else if (path === "/proxyMode") sendText(res, 200, info.mode);
    else if (path === "/configz") sendJson(res, 200, { kubeproxy: info.configz() });
    else if (path === "/healthz") sendText(res, 200, "ok");
    else sendText(res, 404, "404 page not found\n");
  });
}
