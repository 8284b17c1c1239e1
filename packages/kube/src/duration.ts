import { KubeError } from "./errors.js";

// Go's time.ParseDuration units, in nanoseconds. Microseconds have three spellings: "us", U+00B5
// MICRO SIGN and U+03BC GREEK SMALL LETTER MU.
const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  "\u00b5s": 1e3,
  "\u03bcs": 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

const PART = /^(\d*)(?:\.(\d*))?(ns|us|\u00b5s|\u03bcs|ms|s|m|h)/;
// math.MaxInt64 nanoseconds: the longest time.Duration.
const MAX_NS = 9223372036854775807n;

function invalid(input: string, why: string): KubeError {
  return new KubeError(
    "InvalidArgument",
    `invalid duration ${JSON.stringify(input)}: ${why} (a Go duration like 300ms, 1m30s or 2h45m)`,
  );
}

/**
 * Parses a Go `time.Duration` string ("300ms", "1m30s", "-1.5h", "0") into milliseconds, with
 * time.ParseDuration's rules: an optional sign, then one or more decimal numbers each with a unit
 * (`ns`, `us`, `µs`, `μs`, `ms`, `s`, `m`, `h`); a bare number is only allowed for "0"; at most
 * 2^63-1 ns. KubeletConfiguration and KubeProxyConfiguration durations are written this way.
 * @throws KubeError code InvalidArgument naming the input.
 */
export function parseGoDurationMs(input: string): number {
  let rest = input;
  let negative = false;
  if (rest[0] === "-" || rest[0] === "+") {
    negative = rest[0] === "-";
    rest = rest.slice(1);
  }
  if (rest === "0") return 0;
  if (rest === "") throw invalid(input, "empty");
  // Integer nanoseconds, as Go computes them, so 9223372036854775807ns is accepted and one more is
  // not (-9223372036854775808ns is: the negative range is one longer).
  const limit = negative ? MAX_NS + 1n : MAX_NS;
  let totalNs = 0n;
  while (rest.length > 0) {
    const m = PART.exec(rest);
    if (!m) {
      throw invalid(input, /^[\d.]/.test(rest) ? "missing or unknown unit" : "expected a number");
    }
    const [whole, intPart = "", fracPart = "", unit = ""] = m;
    if (intPart === "" && fracPart === "") throw invalid(input, "expected a number");
    const unitNs = UNIT_NS[unit]!;
    totalNs += BigInt(intPart || "0") * BigInt(unitNs);
    // Go's leadingFraction: the fraction scaled in float64 and truncated ("0.3333333333333333333h"
    // is exactly 20m there).
    if (fracPart !== "") {
      totalNs += BigInt(Math.trunc(Number(fracPart) * (unitNs / 10 ** fracPart.length)));
    }
    if (totalNs > limit) throw invalid(input, "overflows a Go duration");
    rest = rest.slice(whole.length);
  }
  const ms = Number(totalNs) / 1e6;
  return negative ? -ms : ms;
}

/**
 * Prints milliseconds the way Go prints a `time.Duration`: "0s", "500ms", "1.5µs", "1m30s",
 * "1h0m0s". Used where a configuration file is written back (`--write-config-to`).
 */
export function formatGoDuration(ms: number): string {
  if (!Number.isFinite(ms)) throw new KubeError("InvalidArgument", `duration ${ms} ms is not finite`);
  if (ms === 0) return "0s";
  if (ms < 0) return `-${formatGoDuration(-ms)}`;
  const ns = Math.round(ms * 1e6);
  // Under a second Go picks the largest unit that keeps the integer part non-zero.
  if (ns < 1e3) return `${ns}ns`;
  if (ns < 1e6) return `${trimmed(ns / 1e3)}\u00b5s`;
  if (ns < 1e9) return `${trimmed(ns / 1e6)}ms`;
  const h = Math.floor(ns / 3600e9);
  const m = Math.floor((ns % 3600e9) / 60e9);
  const s = `${trimmed((ns % 60e9) / 1e9)}s`;
  if (h > 0) return `${h}h${m}m${s}`;
  if (m > 0) return `${m}m${s}`;
  return s;
}

/** Up to nine decimals, trailing zeros dropped, like Go's fmtFrac. */
function trimmed(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toFixed(9).replace(/\.?0+$/, "");
}
