import { NodeStatusError } from "./errors.js";

const SUFFIX: Record<string, number> = {
  "": 1,
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  k: 1e3,
  M: 1e6,
  G: 1e9,
  T: 1e12,
  P: 1e15,
  E: 1e18,
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};

/** Parses a Kubernetes quantity ("100m", "1.5Gi", "2e3", "512") into a plain number. */
export function parseQuantity(value: string | number, what = "quantity"): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value))
      throw new NodeStatusError("InvalidArgument", `${what}: ${value} is not a finite number`);
    return value;
  }
  const m = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E))?$/.exec(
    value.trim(),
  );
  if (!m)
    throw new NodeStatusError(
      "InvalidArgument",
      `${what}: ${JSON.stringify(value)} is not a Kubernetes quantity`,
    );
  const base = Number(m[1]);
  if (m[2] !== undefined) return base * 10 ** Number(m[2]);
  return base * SUFFIX[m[3] ?? ""]!;
}

/** CPU as the API server prints it: whole cores ("4") or millicores ("1500m"). */
export function formatCpuMillis(millis: number): string {
  const m = Math.max(0, Math.round(millis));
  return m % 1000 === 0 ? String(m / 1000) : `${m}m`;
}

/** Bytes in canonical binary-SI form: the largest exact Ki/Mi/Gi/Ti suffix, else plain bytes. */
export function formatBytes(bytes: number): string {
  let b = Math.max(0, Math.floor(bytes));
  if (b === 0) return "0";
  const suffixes = ["", "Ki", "Mi", "Gi", "Ti", "Pi"];
  let i = 0;
  while (i < suffixes.length - 1 && b % 1024 === 0) {
    b /= 1024;
    i++;
  }
  return `${b}${suffixes[i]}`;
}

/** A plain count ("110"). */
export function formatCount(n: number): string {
  return String(Math.max(0, Math.floor(n)));
}
