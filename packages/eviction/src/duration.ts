import { EvictionError } from "./errors.js";

const UNIT_MS: Record<string, number> = {
  ns: 1e-6,
  us: 1e-3,
  µs: 1e-3,
  μs: 1e-3,
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
};

/**
 * Parses a Go duration string ("1m30s", "300ms", "1.5h", "0") into milliseconds, as the kubelet's
 * evictionSoftGracePeriod and evictionPressureTransitionPeriod are written.
 * @throws EvictionError code InvalidThreshold naming the input.
 */
export function parseGoDurationMs(input: string, what = "duration"): number {
  const text = input.trim();
  if (text === "0") return 0;
  let rest = text;
  let sign = 1;
  if (rest.startsWith("-") || rest.startsWith("+")) {
    if (rest[0] === "-") sign = -1;
    rest = rest.slice(1);
  }
  const re = /^(\d+\.?\d*|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  let total = 0;
  let parts = 0;
  while (rest.length > 0) {
    const m = re.exec(rest);
    if (!m) {
      throw new EvictionError(
        "InvalidThreshold",
        `invalid ${what} ${JSON.stringify(input)}: expected a Go duration like 30s, 1m30s or 5m`,
      );
    }
    total += Number(m[1]) * UNIT_MS[m[2]!]!;
    rest = rest.slice(m[0].length);
    parts++;
  }
  if (parts === 0) {
    throw new EvictionError("InvalidThreshold", `invalid ${what} ${JSON.stringify(input)}: empty duration`);
  }
  return sign * total;
}
