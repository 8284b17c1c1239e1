import { KubeError } from "./errors.js";

/** Label values of one series, by label name. */
export type MetricLabels = Record<string, string>;

interface Series {
  labels: MetricLabels;
  value: number;
  buckets?: number[];
  sum?: number;
  count?: number;
}

interface Family {
  name: string;
  help: string;
  type: "counter" | "gauge" | "histogram";
  labelled: boolean;
  bucketBounds?: number[];
  series: Map<string, Series>;
}

/** A counter or gauge of one metric family. */
export interface MetricScalar {
  inc(labels?: MetricLabels, by?: number): void;
  set(value: number, labels?: MetricLabels): void;
  get(labels?: MetricLabels): number;
  /** Drops the series of `labels` (it stops being rendered), as client_golang's Delete. */
  remove(labels?: MetricLabels): void;
}

/** A histogram of one metric family. */
export interface MetricHistogram {
  observe(value: number, labels?: MetricLabels): void;
  /** Number of observations so far. */
  count(labels?: MetricLabels): number;
  /** Drops the series of `labels` (it stops being rendered), as client_golang's Delete. */
  remove(labels?: MetricLabels): void;
}

function key(labels: MetricLabels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(",");
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function renderLabels(labels: MetricLabels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return "";
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

/**
 * A sample value or `le` bound as Go's Prometheus writer prints it (expfmt writeFloat:
 * strconv.FormatFloat(v, 'g', -1, 64)): the shortest round-tripping digits, in exponent form
 * with a signed two-digit exponent when the exponent is below -4 or at least 6, so 1756047.3
 * prints as 1.7560473e+06 and 0.00001 as 1e-05, byte for byte what a real kubelet serves.
 */
function num(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  if (v === Number.NEGATIVE_INFINITY) return "-Inf";
  if (Number.isNaN(v)) return "NaN";
  if (v === 0) return Object.is(v, -0) ? "-0" : "0";
  // toExponential() without digits gives the shortest round-tripping mantissa, like Go's -1.
  const [mantissa, exp] = v.toExponential().split("e") as [string, string];
  const e = Number(exp);
  if (e >= -4 && e < 6) return String(v);
  return `${mantissa}e${e < 0 ? "-" : "+"}${String(Math.abs(e)).padStart(2, "0")}`;
}

/** HELP text escapes backslash and line feed only (quotes stay). */
function escapeHelp(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n");
}

// Prometheus' metric name rule (data model: [a-zA-Z_:][a-zA-Z0-9_:]*).
const METRIC_NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;

/**
 * The SDK's one Prometheus writer: a small registry of counters, gauges and histograms rendered
 * in the text exposition format (version 0.0.4), for agents' `/metrics` endpoints. Families keep
 * their registration order; label values are escaped as the format requires.
 */
export interface MetricsRegistry {
  /** A counter; `labelled` families (vectors) show no series until a label set is used. */
  counter(name: string, help: string, labelled?: boolean): MetricScalar;
  gauge(name: string, help: string, labelled?: boolean): MetricScalar;
  histogram(name: string, help: string, bucketBounds: readonly number[]): MetricHistogram;
  /** Runs `fn` before every render (for values read at scrape time, like memory). */
  onCollect(fn: () => void): void;
  render(): string;
}

/** Creates an empty registry. */
export function createMetricsRegistry(): MetricsRegistry {
  const families = new Map<string, Family>();
  const collectors: (() => void)[] = [];
  const family = (
    name: string,
    help: string,
    type: Family["type"],
    labelled: boolean,
    bucketBounds?: number[],
  ): Family => {
    if (!METRIC_NAME.test(name))
      throw new KubeError(
        "InvalidArgument",
        `invalid metric name ${JSON.stringify(name)}: must match ${METRIC_NAME}`,
      );
    if (families.has(name)) throw new KubeError("InvalidArgument", `metric ${name} registered twice`);
    const f: Family = {
      name,
      help,
      type,
      labelled,
      series: new Map(),
      ...(bucketBounds ? { bucketBounds } : {}),
    };
    families.set(name, f);
    return f;
  };
  const seriesOf = (f: Family, labels: MetricLabels): Series => {
    const k = key(labels);
    let s = f.series.get(k);
    if (!s) {
      s = { labels: { ...labels }, value: 0 };
      if (f.bucketBounds) {
        s.buckets = f.bucketBounds.map(() => 0);
        s.sum = 0;
        s.count = 0;
      }
      f.series.set(k, s);
    }
    return s;
  };
  const scalar = (f: Family): MetricScalar => ({
    inc(labels = {}, by = 1) {
      seriesOf(f, labels).value += by;
    },
    set(value, labels = {}) {
      seriesOf(f, labels).value = value;
    },
    get(labels = {}) {
      return f.series.get(key(labels))?.value ?? 0;
    },
    remove(labels = {}) {
      f.series.delete(key(labels));
    },
  });
  return {
    counter: (name, help, labelled = false) => scalar(family(name, help, "counter", labelled)),
    gauge: (name, help, labelled = false) => scalar(family(name, help, "gauge", labelled)),
    histogram(name, help, bucketBounds) {
      const f = family(name, help, "histogram", false, [...bucketBounds]);
      return {
        observe(value, labels = {}) {
          const s = seriesOf(f, labels);
          f.bucketBounds!.forEach((b, i) => {
            if (value <= b) s.buckets![i]!++;
          });
          s.sum! += value;
          s.count!++;
        },
        count: (labels = {}) => f.series.get(key(labels))?.count ?? 0,
        remove(labels = {}) {
          f.series.delete(key(labels));
        },
      };
    },
    onCollect(fn) {
      collectors.push(fn);
    },
    render() {
      for (const fn of collectors) fn();
      const out: string[] = [];
      for (const f of families.values()) {
        out.push(`# HELP ${f.name} ${escapeHelp(f.help)}`);
        out.push(`# TYPE ${f.name} ${f.type}`);
        if (f.series.size === 0 && f.type !== "histogram" && !f.labelled) out.push(`${f.name} 0`);
        for (const s of f.series.values()) {
          if (f.type !== "histogram") {
            out.push(`${f.name}${renderLabels(s.labels)} ${num(s.value)}`);
            continue;
          }
          f.bucketBounds!.forEach((b, i) => {
            out.push(`${f.name}_bucket${renderLabels(s.labels, ["le", num(b)])} ${num(s.buckets![i]!)}`);
          });
          out.push(`${f.name}_bucket${renderLabels(s.labels, ["le", "+Inf"])} ${num(s.count!)}`);
          out.push(`${f.name}_sum${renderLabels(s.labels)} ${num(s.sum!)}`);
          out.push(`${f.name}_count${renderLabels(s.labels)} ${num(s.count!)}`);
        }
      }
      return `${out.join("\n")}\n`;
    },
  };
}

/** `count` buckets starting at `start`, each `factor` times the previous (prometheus.ExponentialBuckets). */
export function exponentialBuckets(start: number, factor: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start * factor ** i);
}

/** `count` buckets starting at `start`, `width` apart (prometheus.LinearBuckets). */
export function linearBuckets(start: number, width: number, count: number): number[] {
  return Array.from({ length: count }, (_, i) => start + width * i);
}
