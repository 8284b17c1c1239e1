/** Key/value pairs of a structured log line. */
export type LogFields = Record<string, unknown>;

/**
 * Structured logging in klog's text shape or as JSON lines (--logging-format). Has the shape of
 * `@kubenode/kube`'s `Logger`, so it is handed to the blocks as it is.
 */
export interface Logger {
  info(msg: string, fields?: LogFields): void;
  /** Logged only when verbosity >= `level` (klog's V(level)). */
  v(level: number, msg: string, fields?: LogFields): void;
  /** Whether `v(level, ...)` would be written. */
  enabled(level: number): boolean;
  warn(msg: string, fields?: LogFields): void;
  error(msg: string, err?: unknown, fields?: LogFields): void;
  /** A logger whose records carry `logger="<name>"` (logr's WithName). */
  withName(name: string): Logger;
}

/** Options of {@link createLogger}. */
export interface LoggerOptions {
  format: "text" | "json";
  verbosity: number;
  write?: (line: string) => void;
  now?: () => Date;
}

function quoteValue(v: unknown): string {
  if (typeof v === "string") return JSON.stringify(v);
  if (v instanceof Error) return JSON.stringify(v.message);
  if (typeof v === "number" || typeof v === "boolean") return String(v);
  return JSON.stringify(v) ?? "null";
}

/** Creates a logger writing one line per record to stderr (by default). */
export function createLogger(options: LoggerOptions, name = ""): Logger {
  const write = options.write ?? ((line: string) => process.stderr.write(line));
  const now = options.now ?? (() => new Date());
  const emit = (
    severity: "I" | "W" | "E",
    level: number,
    msg: string,
    own: LogFields = {},
    err?: unknown,
  ) => {
    const fields = name ? { logger: name, ...own } : own;
    const t = now();
    if (options.format === "json") {
      const rec: LogFields = { ts: t.getTime() / 1000, v: level, msg, ...fields };
      if (severity === "E")
        rec.err = err instanceof Error ? err.message : err === undefined ? undefined : String(err);
      write(`${JSON.stringify(rec)}\n`);
      return;
    }
    // klog text header: Lmmdd hh:mm:ss.uuuuuu pid file] "msg" key="value" ...
    const pad = (n: number, w = 2) => String(n).padStart(w, "0");
    const head = `${severity}${pad(t.getUTCMonth() + 1)}${pad(t.getUTCDate())} ${pad(t.getUTCHours())}:${pad(t.getUTCMinutes())}:${pad(t.getUTCSeconds())}.${pad(t.getUTCMilliseconds() * 1000, 6)} ${process.pid} proxy]`;
    const parts = [head, JSON.stringify(msg)];
    if (err !== undefined) parts.push(`err=${quoteValue(err)}`);
    for (const [k, v] of Object.entries(fields)) parts.push(`${k}=${quoteValue(v)}`);
    write(`${parts.join(" ")}\n`);
  };
  return {
    info: (msg, fields) => emit("I", 0, msg, fields),
    v: (level, msg, fields) => {
      if (options.verbosity >= level) emit("I", level, msg, fields);
    },
    enabled: (level) => options.verbosity >= level,
    warn: (msg, fields) => emit("W", 0, msg, fields),
    error: (msg, err, fields) => emit("E", 0, msg, fields, err),
    withName: (n) => createLogger(options, name ? `${name}.${n}` : n),
  };
}

/** A logger that drops everything (tests). */
export const silentLogger: Logger = {
  info() {},
  v() {},
  enabled: () => false,
  warn() {},
  error() {},
  withName: () => silentLogger,
};

/** `log` with `fields` added to every record (the proxy mode on the blocks' records, say). */
export function withFields(log: Logger, fields: LogFields): Logger {
  return {
    info: (msg, f) => log.info(msg, { ...fields, ...f }),
    v: (level, msg, f) => log.v(level, msg, { ...fields, ...f }),
    enabled: (level) => log.enabled(level),
    warn: (msg, f) => log.warn(msg, { ...fields, ...f }),
    error: (msg, err, f) => log.error(msg, err, { ...fields, ...f }),
    withName: (name) => withFields(log.withName(name), fields),
  };
}
