import {
  createMetricsRegistry,
  exponentialBuckets,
  type MetricHistogram as Histogram,
  linearBuckets,
  type MetricsRegistry,
  type MetricScalar as Scalar,
} from "@kubenode/kube";

/** The metrics kube-proxy exposes, with upstream names (pkg/proxy/metrics) where they exist. */
export interface ProxyMetrics {
  readonly registry: MetricsRegistry;
  syncDuration: Histogram;
  syncFullDuration: Histogram;
  syncPartialDuration: Histogram;
  networkProgrammingDuration: Histogram;
  lastSyncTimestamp: Scalar;
  lastQueuedTimestamp: Scalar;
  serviceChangesPending: Scalar;
  serviceChangesTotal: Scalar;
  endpointChangesPending: Scalar;
  endpointChangesTotal: Scalar;
  /** iptables mode: rules by table ("nat", "filter"). */
  iptablesRules: Scalar;
  iptablesRestoreFailures: Scalar;
  iptablesPartialRestoreFailures: Scalar;
  nftablesSyncFailures: Scalar;
  noLocalEndpoints: Scalar;
  healthzTotal: Scalar;
  livezTotal: Scalar;
}

// Mirrors the bucket layout of kube-proxy's network_programming_duration_seconds.
const NETWORK_PROGRAMMING_BUCKETS = [
  ...linearBuckets(0.25, 0.25, 2),
  ...linearBuckets(1, 1, 59),
  ...linearBuckets(60, 5, 12),
  ...linearBuckets(120, 30, 7),
];

/** Registers every kube-proxy metric in a fresh registry. */
export function createProxyMetrics(): ProxyMetrics {
  const r = createMetricsRegistry();
  const syncBuckets = exponentialBuckets(0.001, 2, 15);
  return {
    registry: r,
    syncDuration: r.histogram(
      "kubeproxy_sync_proxy_rules_duration_seconds",
      "SyncProxyRules latency in seconds",
      syncBuckets,
    ),
    syncFullDuration: r.histogram(
      "kubeproxy_sync_full_proxy_rules_duration_seconds",
      "SyncProxyRules latency in seconds for full resyncs",
      syncBuckets,
    ),
    syncPartialDuration: r.histogram(
      "kubeproxy_sync_partial_proxy_rules_duration_seconds",
      "SyncProxyRules latency in seconds for partial resyncs",
      syncBuckets,
    ),
    networkProgrammingDuration: r.histogram(
      "kubeproxy_network_programming_duration_seconds",
      "In Cluster Network Programming Latency in seconds",
      NETWORK_PROGRAMMING_BUCKETS,
    ),
    lastSyncTimestamp: r.gauge(
      "kubeproxy_sync_proxy_rules_last_timestamp_seconds",
      "The last time proxy rules were successfully synced",
    ),
    lastQueuedTimestamp: r.gauge(
      "kubeproxy_sync_proxy_rules_last_queued_timestamp_seconds",
      "The last time a sync of proxy rules was queued",
    ),
    serviceChangesPending: r.gauge(
      "kubeproxy_sync_proxy_rules_service_changes_pending",
      "Pending proxy rules Service changes",
    ),
    serviceChangesTotal: r.counter(
      "kubeproxy_sync_proxy_rules_service_changes_total",
      "Cumulative proxy rules Service changes",
    ),
    endpointChangesPending: r.gauge(
      "kubeproxy_sync_proxy_rules_endpoint_changes_pending",
      "Pending proxy rules Endpoint changes",
    ),
    endpointChangesTotal: r.counter(
      "kubeproxy_sync_proxy_rules_endpoint_changes_total",
      "Cumulative proxy rules Endpoint changes",
    ),
    iptablesRules: r.gauge(
      "kubeproxy_sync_proxy_rules_iptables_total",
      "Total number of iptables rules owned by kube-proxy",
      true,
    ),
    iptablesRestoreFailures: r.counter(
      "kubeproxy_sync_proxy_rules_iptables_restore_failures_total",
      "Cumulative proxy iptables restore failures",
    ),
    iptablesPartialRestoreFailures: r.counter(
      "kubeproxy_sync_proxy_rules_iptables_partial_restore_failures_total",
      "Cumulative proxy iptables partial restore failures",
    ),
    nftablesSyncFailures: r.counter(
      "kubeproxy_sync_proxy_rules_nftables_sync_failures_total",
      "Cumulative proxy nftables sync failures",
    ),
    noLocalEndpoints: r.gauge(
      "kubeproxy_sync_proxy_rules_no_local_endpoints_total",
      "Number of services with a Local traffic policy and no endpoints",
      true,
    ),
    healthzTotal: r.counter("kubeproxy_proxy_healthz_total", "Cumulative proxy healthz HTTP status", true),
    livezTotal: r.counter("kubeproxy_proxy_livez_total", "Cumulative proxy livez HTTP status", true),
  };
}

/** Process metrics with the names Prometheus client libraries use (read at scrape time). */
export function registerProcessMetrics(metrics: ProxyMetrics, startMs = Date.now()): void {
  const r = metrics.registry;
  const rss = r.gauge("process_resident_memory_bytes", "Resident memory size in bytes.");
  const start = r.gauge(
    "process_start_time_seconds",
    "Start time of the process since unix epoch in seconds.",
  );
  const heapUsed = r.gauge("nodejs_heap_size_used_bytes", "Process heap size used from Node.js in bytes.");
  const heapTotal = r.gauge("nodejs_heap_size_total_bytes", "Process heap size from Node.js in bytes.");
  r.onCollect(() => {
    const m = process.memoryUsage();
    rss.set(m.rss);
    heapUsed.set(m.heapUsed);
    heapTotal.set(m.heapTotal);
    start.set(Math.floor(startMs / 1000));
  });
}
