import { describe, expect, it } from "vitest";
import { createMetricsRegistry, exponentialBuckets, linearBuckets } from "./metrics.js";

describe("createMetricsRegistry (Prometheus text format 0.0.4)", () => {
  it("renders counters, gauges and histograms in registration order, labels escaped", () => {
    const r = createMetricsRegistry();
    const syncs = r.counter("demo_syncs_total", "Syncs done.\nWith a \\ in help.");
    const pending = r.gauge("demo_pending", "Pending changes.", true);
    const latency = r.histogram("demo_latency_seconds", "Latency.", [0.1, 1]);
    syncs.inc();
    syncs.inc({}, 2);
    pending.set(3, { kind: 'a"b\\c\nd' });
    latency.observe(0.05);
    latency.observe(0.5);
    latency.observe(5);
    let collected = 0;
    r.onCollect(() => collected++);
    expect(r.render()).toBe(
      [
        "# HELP demo_syncs_total Syncs done.\\nWith a \\\\ in help.",
        "# TYPE demo_syncs_total counter",
        "demo_syncs_total 3",
        "# HELP demo_pending Pending changes.",
        "# TYPE demo_pending gauge",
        'demo_pending{kind="a\\"b\\\\c\\nd"} 3',
        "# HELP demo_latency_seconds Latency.",
        "# TYPE demo_latency_seconds histogram",
        'demo_latency_seconds_bucket{le="0.1"} 1',
        'demo_latency_seconds_bucket{le="1"} 2',
        'demo_latency_seconds_bucket{le="+Inf"} 3',
        "demo_latency_seconds_sum 5.55",
        "demo_latency_seconds_count 3",
        "",
      ].join("\n"),
    );
    expect(collected).toBe(1);
    expect(syncs.get()).toBe(3);
    expect(latency.count()).toBe(3);
  });

  it("prints numbers as Go's writer does (expfmt's own histogram case, then the exponent edges)", () => {
    const r = createMetricsRegistry();
    const h = r.histogram("request_duration_microseconds", "The response latency.", [100, 120, 144, 172.8]);
    // Upstream's expfmt test expects `request_duration_microseconds_sum 1.7560473e+06`.
    h.observe(1756047.3 - 4 * 50);
    for (let i = 0; i < 4; i++) h.observe(50);
    const g = r.gauge("edge", "E.", true);
    const values = [123456, 1e6, 31104000, 1712345678.91, 0.0001, 0.00001, 1.5e-7, 1e100, -2.5e9, Number.NaN];
    for (const [i, v] of values.entries()) g.set(v, { i: String(i) });
    const lines = r.render().split("\n");
    expect(lines).toContain("request_duration_microseconds_sum 1.7560473e+06");
    expect(lines).toContain('request_duration_microseconds_bucket{le="172.8"} 4');
    expect(lines.filter((l) => l.startsWith("edge{")).map((l) => l.split(" ")[1])).toEqual([
      "123456",
      "1e+06",
      "3.1104e+07",
      "1.71234567891e+09",
      "0.0001",
      "1e-05",
      "1.5e-07",
      "1e+100",
      "-2.5e+09",
      "NaN",
    ]);
  });

  it("shows an unlabelled family at 0 and a labelled one without series until used", () => {
    const r = createMetricsRegistry();
    r.counter("a_total", "A.");
    r.gauge("b", "B.", true);
    expect(r.render()).toBe(
      "# HELP a_total A.\n# TYPE a_total counter\na_total 0\n# HELP b B.\n# TYPE b gauge\n",
    );
  });

  it("drops a removed series of a counter or histogram and keeps the others", () => {
    const r = createMetricsRegistry();
    const c = r.counter("probes_total", "P.", true);
    const h = r.histogram("probe_seconds", "S.", [1]);
    c.inc({ pod: "a" });
    c.inc({ pod: "b" }, 2);
    h.observe(0.5, { pod: "a" });
    c.remove({ pod: "a" });
    h.remove({ pod: "a" });
    expect(c.get({ pod: "a" })).toBe(0);
    expect(h.count({ pod: "a" })).toBe(0);
    expect(r.render()).toBe(
      '# HELP probes_total P.\n# TYPE probes_total counter\nprobes_total{pod="b"} 2\n# HELP probe_seconds S.\n# TYPE probe_seconds histogram\n',
    );
  });

  it("refuses a name registered twice or not a metric name, naming it", () => {
    const r = createMetricsRegistry();
    r.counter("x_total", "X.");
    expect(() => r.gauge("x_total", "again")).toThrow(
      expect.objectContaining({ code: "InvalidArgument", message: "metric x_total registered twice" }),
    );
    expect(() => r.gauge("bad-name", "B.")).toThrow('invalid metric name "bad-name"');
  });

  it("builds Prometheus' exponential and linear buckets", () => {
    expect(exponentialBuckets(0.001, 2, 4)).toEqual([0.001, 0.002, 0.004, 0.008]);
    expect(linearBuckets(1, 5, 3)).toEqual([1, 6, 11]);
  });
});
