import type { Clock } from "./clock.js";

/** Key/value pairs of one structured log record. Keys should be lowerCamelCase, as upstream's. */
export type LogFields = Readonly<Record<string, unknown>>;

/**
 * The one structured logger of kubenode. Every block and app takes `logger?: Logger` and never
 * writes to stdout/stderr on its own. The shape follows klog's structured calls (InfoS, V(n).InfoS,
 * ErrorS) and logr's `WithName`, so records map one to one onto upstream's text and JSON output.
 *
 * Any object with these methods works: wrap pino, winston or a test recorder in a few lines.
 */
export interface Logger {
  /** An informational record (klog `InfoS`, verbosity 0). */
  info(msg: string, fields?: LogFields): void;
  /** A record written only when the logger's verbosity is at least `level` (klog `V(level).InfoS`). */
  v(level: number, msg: string, fields?: LogFields): void;
  /** Whether `v(level, ...)` would be written: guard for fields that are costly to build. */
  enabled(level: number): boolean;
  /** A warning (klog `Warning`; in JSON output an info record, as upstream has no warning level). */
  warn(msg: string, fields?: LogFields): void;
  /** An error (klog `ErrorS(err, msg, ...)`); `err` may be omitted when there is no error value. */
  error(msg: string, err?: unknown, fields?: LogFields): void;
  /**
   * A logger whose records carry `name` appended to this logger's name (logr `WithName`), shown
   * as `logger="kubelet.node"` in both formats.
   */
  withName(name: string): Logger;
}

/** Output format, as upstream's `--logging-format`. */
export type LogFormat = "text" | "json";

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  /** `text` (klog's header + structured key/values, the default) or `json` (one object per line). */
  format?: LogFormat | undefined;
  /** klog's `-v`: records of `v(level, ...)` with level above this are dropped. Default 0. */
  verbosity?: number | undefined;
  /**
   * Receives each record as one line ending in `\n`. Default: `process.stderr.write`, where
   * upstream components log too.
   */
  write?: ((line: string) => void) | undefined;
  /** Source of timestamps. Default: the wall clock. */
  clock?: Pick<Clock, "now"> | undefined;
  /**
   * Text format only: what stands in klog's `file:line` header field (we have no cheap caller
   * lookup). Default `"kubenode"`.
   */
  source?: string | undefined;
  /** Thread id field of the text header. Default `process.pid`. */
  pid?: number | undefined;
}

type Severity = "I" | "W" | "E";

interface Entry {
  severity: Severity;
  level: number;
  msg: string;
  err: unknown;
  hasErr: boolean;
  fields: LogFields | undefined;
}

/** The text of an error value as upstream prints `err`: its message. */
function errorText(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (typeof err === "string") return err;
  return String(err);
}

/** A value made JSON-safe: errors become their message, bigints text, others stay. */
function jsonValue(value: unknown): unknown {
  if (value instanceof Error) return value.message;
  if (typeof value === "bigint") return value.toString();
  return value;
}

function safeStringify(value: unknown): string {
  try {
    return (
      JSON.stringify(value, (_k, v: unknown) => (typeof v === "bigint" ? v.toString() : v)) ?? String(value)
    );
  } catch {
    // Cycles and throwing getters: a log call must never throw.
    return JSON.stringify(String(value));
  }
}

/**
 * One klog text value (k8s.io/klog/v2 internal/serialize): strings quoted, multi-line strings in
 * klog's `<` block form, numbers and booleans bare, errors as their quoted message, other values
 * as JSON (klog prints structs with %+v; JSON is the closest portable form).
 */
function textValue(value: unknown): string {
  if (value instanceof Error) return JSON.stringify(value.message);
  if (typeof value === "string") {
    if (!value.includes("\n")) return JSON.stringify(value);
    const body = value.endsWith("\n") ? value.slice(0, -1) : value;
    return `<\n${body
      .split("\n")
      .map((l) => `\t${l}`)
      .join("\n")}\n >`;
  }
  if (typeof value === "number" || typeof value === "boolean" || typeof value === "bigint")
    return String(value);
  if (value === undefined) return '"<nil>"';
  if (value === null) return "null";
  return safeStringify(value);
}

const pad = (n: number, width = 2) => String(n).padStart(width, "0");

/**
 * klog's header: `Lmmdd hh:mm:ss.uuuuuu threadid file:line]`. klog prints local time; we print UTC
 * so that lines from processes in different zones sort together.
 */
function textHeader(severity: Severity, ms: number, pid: number, source: string): string {
  const t = new Date(ms);
  const micros = pad(Math.floor(ms % 1000) * 1000, 6);
  return `${severity}${pad(t.getUTCMonth() + 1)}${pad(t.getUTCDate())} ${pad(t.getUTCHours())}:${pad(
    t.getUTCMinutes(),
  )}:${pad(t.getUTCSeconds())}.${micros} ${String(pid).padStart(7, " ")} ${source}]`;
}

function formatText(rec: Entry, name: string, ms: number, pid: number, source: string): string {
  const parts = [textHeader(rec.severity, ms, pid, source), JSON.stringify(rec.msg)];
  if (rec.hasErr) parts.push(`err=${JSON.stringify(errorText(rec.err))}`);
  if (name) parts.push(`logger=${JSON.stringify(name)}`);
  if (rec.fields) for (const [k, v] of Object.entries(rec.fields)) parts.push(`${k}=${textValue(v)}`);
  return `${parts.join(" ")}\n`;
}

/**
 * Upstream's JSON format (k8s.io/component-base/logs/json, zap + zapr): `ts` is milliseconds since
 * the epoch as a float, `logger` the joined name, `msg`, then `v` on info records only (zapr's
 * LogInfoLevel: errors carry no level), `err` on errors, then the fields.
 */
function formatJson(rec: Entry, name: string, ms: number): string {
  const out: { [k: string]: unknown } = { ts: ms };
  if (name) out.logger = name;
  out.msg = rec.msg;
  if (rec.severity === "E") {
    if (rec.hasErr) out.err = errorText(rec.err);
  } else {
    out.v = rec.level;
  }
  if (rec.fields) {
    for (const [k, v] of Object.entries(rec.fields)) {
      // Reserved keys stay upstream's; a clashing field keeps its value under a prefixed key.
      out[k in out ? `field.${k}` : k] = jsonValue(v);
    }
  }
  return `${safeStringify(out)}\n`;
}

/**
 * Creates a logger writing klog-compatible text (default) or upstream's JSON lines.
 *
 * @example
 * const log = createLogger({ verbosity: 2 }).withName("kubelet");
 * log.info("Starting kubelet", { nodeName: "n1" });
 * // I1206 23:55:41.000000    4242 kubenode] "Starting kubelet" logger="kubelet" nodeName="n1"
 */
export function createLogger(options: LoggerOptions = {}): Logger {
  const format = options.format ?? "text";
  if (format !== "text" && format !== "json") throw new TypeError(`unknown log format "${String(format)}"`);
  const verbosity = options.verbosity ?? 0;
  if (!Number.isInteger(verbosity) || verbosity < 0)
    throw new RangeError(`verbosity must be a non-negative integer, got ${verbosity}`);
  const write = options.write ?? ((line: string) => void process.stderr.write(line));
  const now = options.clock ? () => options.clock!.now() : () => Date.now();
  const source = options.source ?? "kubenode";
  const pid = options.pid ?? process.pid;

  const make = (name: string): Logger => {
    const emit = (rec: Entry) => {
      const ms = now();
      const line = format === "json" ? formatJson(rec, name, ms) : formatText(rec, name, ms, pid, source);
      try {
        write(line);
      } catch {
        // A broken sink must not break the caller.
      }
    };
    return {
      info: (msg, fields) => emit({ severity: "I", level: 0, msg, err: undefined, hasErr: false, fields }),
      v: (level, msg, fields) => {
        if (verbosity >= level) emit({ severity: "I", level, msg, err: undefined, hasErr: false, fields });
      },
      enabled: (level) => verbosity >= level,
      warn: (msg, fields) => emit({ severity: "W", level: 0, msg, err: undefined, hasErr: false, fields }),
      error: (msg, err, fields) =>
        emit({ severity: "E", level: 0, msg, err, hasErr: err !== undefined && err !== null, fields }),
      withName: (child) => make(name ? `${name}.${child}` : child),
    };
  };
  return make("");
}

/** A logger that drops every record: the default of blocks that were given none. */
export const silentLogger: Logger = {
  info() {},
  v() {},
  enabled: () => false,
  warn() {},
  error() {},
  withName: () => silentLogger,
};
