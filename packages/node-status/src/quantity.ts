import { parseQuantity as parseKubeQuantity } from "@kubenode/kube";
import { NodeStatusError } from "./errors.js";

/**
 * Parses a Kubernetes quantity ("100m", "1.5Gi", "2e3", "512") into a plain number, fractions
 * kept (CPU "100m" is 0.1). Numbers pass through when finite.
 * @throws NodeStatusError code InvalidArgument naming `what` and the input.
 */
export function parseQuantity(value: string | number, what = "quantity"): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value))
      throw new NodeStatusError("InvalidArgument", `${what}: ${value} is not a finite number`);
    return value;
  }
  try {
    return parseKubeQuantity(value).amount;
  } catch (err) {
    throw new NodeStatusError(
      "InvalidArgument",
      `${what}: ${JSON.stringify(value)} is not a Kubernetes quantity`,
      {
        cause: err,
      },
    );
  }
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
