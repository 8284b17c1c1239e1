import { formatQuantity, parseQuantity } from "@kubenode/kube";
import { NodeStatusError } from "./errors.js";

/**
 * The amount of a configured quantity ("100m" is 0.1, "1.5Gi" 1610612736) through
 * `@kubenode/kube`'s parser, with the configuration field it came from in the error.
 * Numbers pass through when finite.
 * @throws NodeStatusError code InvalidArgument naming `what` and the input.
 */
export function amountOf(value: string | number, what: string): number {
  if (typeof value === "number") {
    if (!Number.isFinite(value))
      throw new NodeStatusError("InvalidArgument", `${what}: ${value} is not a finite number`);
    return value;
  }
  try {
    return parseQuantity(value).amount;
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

/** Bytes, floored at 0, in canonical binary-SI form ("16302532Ki", "2Gi", "1000"). */
export function formatBytes(bytes: number): string {
  return formatQuantity(Math.max(0, Math.floor(bytes)), "BinarySI");
}

/** A plain count ("110"). */
export function formatCount(n: number): string {
  return String(Math.max(0, Math.floor(n)));
}
