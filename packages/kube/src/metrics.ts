// A small Prometheus registry rendering the text exposition format (0.0.4), shared by the agents'
// /metrics endpoints (kube-proxy, the kubelet) so each need not write its own.

/** Label values of one series, by label name. */
export type Labels = Record<string, string>;

interface Series {
  labels: Labels;
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
export interface Scalar {
  inc(labels?: Labels, by?: number): void;
  set(value: number, labels?: Labels): void;
  get(labels?: Labels): number;
}

/** A histogram of one metric family. */
export interface Histogram {
  observe(value: number, labels?: Labels): void;
  /** Number of observations so far. */
  count(labels?: Labels): number;
}

function key(labels: Labels): string {
  return Object.keys(labels)
    .sort()
    .map((k) => `${k}=${labels[k]}`)
    .join(",");
}

function escapeLabel(v: string): string {
  return v.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"');
}

function renderLabels(labels: Labels, extra?: [string, string]): string {
  const pairs = Object.entries(labels);
  if (extra) pairs.push(extra);
  if (pairs.length === 0) return "";
  return `{${pairs.map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(",")}}`;
}

function num(v: number): string {
  if (v === Number.POSITIVE_INFINITY) return "+Inf";
  return String(v);
}

/** A small Prometheus registry rendering the text exposition format (version 0.0.4). */
export interface MetricsRegistry {
  /** A counter; `labelled` families (vectors) show no series until a label set is used. */
  counter(name: string, help: string, labelled?: boolean): Scalar;
  gauge(name: string, help: string, labelled?: boolean): Scalar;
  histogram(name: string, help: string, bucketBounds: readonly number[]): Histogram;
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
    if (families.has(name)) throw new Error(`metric ${name} registered twice`);
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
  const seriesOf = (f: Family, labels: Labels): Series => {
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
  const scalar = (f: Family): Scalar => ({
    inc(labels = {}, by = 1) {
      seriesOf(f, labels).value += by;
    },
    set(value, labels = {}) {
      seriesOf(f, labels).value = value;
    },
    get(labels = {}) {
      return f.series.get(key(labels))?.value ?? 0;
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
      };
    },
    onCollect(fn) {
      collectors.push(fn);
    },
    render() {
      for (const fn of collectors) fn();
      const out: string[] = [];
      for (const f of families.values()) {
        out.push(`# HELP ${f.name} ${f.help}`);
        out.push(`# TYPE ${f.name} ${f.type}`);
        if (f.series.size === 0 && f.type !== "histogram" && !f.labelled) out.push(`${f.name} 0`);
        for (const s of f.series.values()) {
          if (f.type !== "histogram") {
            out.push(`${f.name}${renderLabels(s.labels)} ${num(s.value)}`);
            continue;
          }
          f.bucketBounds!.forEach((b, i) => {
            out.push(`${f.name}_bucket${renderLabels(s.labels, ["le", num(b)])} ${s.buckets![i]}`);
          });
          out.push(`${f.name}_bucket${renderLabels(s.labels, ["le", "+Inf"])} ${s.count}`);
          out.push(`${f.name}_sum${renderLabels(s.labels)} ${num(s.sum!)}`);
          out.push(`${f.name}_count${renderLabels(s.labels)} ${s.count}`);
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
