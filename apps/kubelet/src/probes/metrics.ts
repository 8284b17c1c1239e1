// The kubelet's /metrics/probes (upstream pkg/kubelet/prober: ProberResults and ProberDuration in
// prober_manager.go, fed by worker.go doProbe; served by server.go in its own registry with
// process_start_time_seconds).
import { createMetricsRegistry, type MetricsRegistry } from "@kubenode/kube";

/** Prometheus' default histogram buckets (client_golang DefBuckets), which ProberDuration uses. */
const DEFAULT_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** Which probe an observation is of. */
export interface ProbeIdentity {
  /** `Liveness`, `Readiness` or `Startup`, as upstream's probeType.String(). */
  probeType: string;
  container: string;
  pod: string;
  namespace: string;
  podUid: string;
}

/** A probe round's result as the metric labels it: a prober error records nothing (upstream throws it away). */
export type ProbeMetricResult = "successful" | "failed" | "unknown";

/** Probe observations and the registry /metrics/probes renders. */
export interface ProbeMetrics {
  readonly registry: MetricsRegistry;
  /**
   * One probe round ended with `result` after `seconds`: prober_probe_total counts it; as upstream,
   * prober_probe_duration_seconds observes successful (and unknown) rounds only.
   */
  observe(probe: ProbeIdentity, result: ProbeMetricResult, seconds: number): void;
  /** The probe's worker stopped: its series disappear, as upstream deletes them. */
  forget(probe: ProbeIdentity): void;
}

/** Creates the probe metrics in a fresh registry (or `registry`). */
export function createProbeMetrics(
  registry: MetricsRegistry = createMetricsRegistry(),
  processStartTimeSeconds: number = Math.floor(Date.now() / 1000 - process.uptime()),
): ProbeMetrics {
  registry
    .gauge("process_start_time_seconds", "Start time of the process since unix epoch in seconds.")
    .set(processStartTimeSeconds);
  const total = registry.counter(
    "prober_probe_total",
    "Cumulative number of a liveness, readiness or startup probe for a container by result.",
    true,
  );
  const duration = registry.histogram(
    "prober_probe_duration_seconds",
    "Duration in seconds for a probe response.",
    DEFAULT_BUCKETS,
  );
  const totalLabels = (p: ProbeIdentity, result: ProbeMetricResult) => ({
    probe_type: p.probeType,
    result,
    container: p.container,
    pod: p.pod,
    namespace: p.namespace,
    pod_uid: p.podUid,
  });
  const durationLabels = (p: ProbeIdentity) => ({
    probe_type: p.probeType,
    container: p.container,
    pod: p.pod,
    namespace: p.namespace,
  });
  return {
    registry,
    observe(p, result, seconds) {
      total.inc(totalLabels(p, result));
      if (result !== "failed") duration.observe(seconds, durationLabels(p));
    },
    forget(p) {
      for (const result of ["successful", "failed", "unknown"] as const) total.remove(totalLabels(p, result));
      duration.remove(durationLabels(p));
    },
  };
}
