// The kubelet's /metrics: upstream metric names (pkg/kubelet/metrics) for what this kubelet
// measures, in the shared Prometheus registry of @kubenode/kube.
import { createMetricsRegistry, exponentialBuckets, type MetricsRegistry } from "@kubenode/kube";
import { createProbeMetrics, type ProbeMetrics } from "../probes/metrics.js";
import type { RuntimePod } from "../runtime/types.js";

/** Upstream's buckets for pod start and worker durations (0.5 s .. 1 h, kubelet metrics.go). */
const POD_START_BUCKETS = [
  0.5, 1, 2, 3, 4, 5, 6, 8, 10, 20, 30, 45, 60, 120, 180, 240, 300, 360, 480, 600, 900, 1200, 1800, 2700,
  3600,
];

/** Observations the kubelet makes; the server renders them on /metrics. */
export interface KubeletMetrics {
  readonly registry: MetricsRegistry;
  /** Probe results and durations, in their own registry (/metrics/probes, as upstream). */
  readonly probes: ProbeMetrics;
  /** One PLEG relist took `seconds` (kubelet_pleg_relist_duration_seconds). */
  observeRelist(seconds: number, pods: readonly RuntimePod[]): void;
  /** A pod first seen `seconds` ago reached Running (kubelet_pod_start_duration_seconds). */
  observePodStart(seconds: number): void;
  /** A pod was evicted (kubelet_evictions{eviction_signal}). */
  observeEviction(signal: string): void;
}

/**
 * The serving certificate manager's metrics, as upstream registers them with serverTLSBootstrap
 * (pkg/kubelet/certificate NewKubeletServerCertificateManager): seconds until the served certificate
 * expires (+Inf without one), read at scrape time; renewal errors; and how long each replaced
 * certificate had lived (from its notBefore) when its successor arrived.
 */
export function registerServingCertificateMetrics(
  registry: MetricsRegistry,
  notAfterMs: () => number | undefined,
  nowMs: () => number,
): { renewError(): void; rotated(previousNotBeforeMs: number): void } {
  const ttl = registry.gauge(
    "kubelet_certificate_manager_server_ttl_seconds",
    "Gauge of the shortest TTL (time-to-live) of the Kubelet's serving certificate. The value is in seconds until certificate expiry (negative if already expired). If serving certificate is invalid or unused, the value will be +INF.",
  );
  registry.onCollect(() => {
    const at = notAfterMs();
    ttl.set(at === undefined ? Number.POSITIVE_INFINITY : Math.trunc((at - nowMs()) / 1000));
  });
  const errors = registry.counter(
    "kubelet_server_expiration_renew_errors",
    "Counter of certificate renewal errors.",
  );
  const rotationAge = registry.histogram(
    "kubelet_certificate_manager_server_rotation_seconds",
    "Histogram of the number of seconds the previous certificate lived before being rotated.",
    // 1 minute, 1 hour, 4 hours, 1 day, 1 week, 1 month, 3 and 6 months, 1 and 4 years (upstream's).
    [60, 3600, 14400, 86400, 604800, 2592000, 7776000, 15552000, 31104000, 124416000],
  );
  return {
    renewError: () => errors.inc(),
    rotated: (previousNotBeforeMs) => rotationAge.observe((nowMs() - previousNotBeforeMs) / 1000),
  };
}

/** Creates the kubelet's metrics in a fresh registry (or `registry`). */
export function createKubeletMetrics(nodeName: string, registry = createMetricsRegistry()): KubeletMetrics {
  const nodeNameGauge = registry.gauge("kubelet_node_name", "The node's name. The count is always 1.", true);
  nodeNameGauge.set(1, { node: nodeName });
  const runningPods = registry.gauge(
    "kubelet_running_pods",
    "Number of pods that have a running pod sandbox",
  );
  const runningContainers = registry.gauge(
    "kubelet_running_containers",
    "Number of containers currently running",
    true,
  );
  const relist = registry.histogram(
    "kubelet_pleg_relist_duration_seconds",
    "Duration in seconds for relisting pods in PLEG.",
    exponentialBuckets(0.005, 2, 10),
  );
  const podStart = registry.histogram(
    "kubelet_pod_start_duration_seconds",
    "Duration in seconds from kubelet seeing a pod for the first time to the pod starting to run",
    POD_START_BUCKETS,
  );
  const evictions = registry.counter(
    "kubelet_evictions",
    "Cumulative number of pod evictions by eviction signal",
    true,
  );
  return {
    registry,
    probes: createProbeMetrics(),
    observeRelist(seconds, pods) {
      relist.observe(seconds);
      runningPods.set(pods.filter((p) => p.sandboxes.some((s) => s.state === "ready")).length);
      const byState = new Map<string, number>([
        ["created", 0],
        ["running", 0],
        ["exited", 0],
        ["unknown", 0],
      ]);
      for (const p of pods)
        for (const c of p.containers) byState.set(c.state, (byState.get(c.state) ?? 0) + 1);
      for (const [state, n] of byState) runningContainers.set(n, { container_state: state });
    },
    observePodStart: (seconds) => podStart.observe(seconds),
    observeEviction: (signal) => evictions.inc({ eviction_signal: signal }),
  };
}
