import {
  KubeError,
  parseQuantity as parseKubeQuantity,
  type QuantityFormat,
  quantityValue,
} from "@kubenode/kube";
import { EvictionError } from "./errors.js";

export { formatQuantity, type QuantityFormat } from "@kubenode/kube";

/** A parsed quantity: an integer value (rounded up, like Quantity.Value()) and its print format. */
export interface ParsedQuantity {
  value: number;
  format: QuantityFormat;
}

/**
 * Parses a Kubernetes quantity ("100Mi", "1.5Gi", "2G", "500m", "1e3", "1200") for thresholds and
 * eviction messages, rounded up to an integer as Quantity.Value() does.
 * @throws EvictionError code InvalidThreshold naming the input when it is not a quantity.
 */
export function parseQuantity(input: string): ParsedQuantity {
  try {
    const q = parseKubeQuantity(input);
    return { value: quantityValue(q), format: q.format };
  } catch (err) {
    if (err instanceof KubeError) throw new EvictionError("InvalidThreshold", err.message, { cause: err });
    throw err;
  }
}
