import { KubeError } from "./errors.js";

/**
 * How a quantity prints: BinarySI with Ki/Mi/Gi…, DecimalSI with k/M/G… (apimachinery's
 * resource.Quantity formats).
 */
export type QuantityFormat = "BinarySI" | "DecimalSI";

/** A parsed Kubernetes quantity. */
export interface Quantity {
  /** The exact amount, fractions kept: "500m" is 0.5, "1.5Gi" is 1610612736. */
  amount: number;
  /** The format its suffix implies; an exponent or no suffix is DecimalSI. */
  format: QuantityFormat;
}

const MULTIPLIER: Record<string, number> = {
  n: 1e-9,
  u: 1e-6,
  m: 1e-3,
  "": 1,
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

const QUANTITY = /^([+-]?(?:\d+\.?\d*|\.\d+))(?:[eE]([+-]?\d+)|(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]))?$/;

/**
 * Parses a Kubernetes quantity ("100m", "1.5Gi", "2G", "1e3", "512").
 * @throws KubeError code InvalidArgument naming the input when it is not a quantity.
 */
export function parseQuantity(text: string): Quantity {
  const m = QUANTITY.exec(text.trim());
  if (!m) {
    throw new KubeError(
      "InvalidArgument",
      `invalid quantity ${JSON.stringify(text)}: expected a number with an optional suffix like 100m, 100Mi, 1Gi, 500M or 1e3`,
    );
  }
  const base = Number(m[1]);
  if (m[2] !== undefined) return { amount: base * 10 ** Number(m[2]), format: "DecimalSI" };
  const suffix = m[3] ?? "";
  return { amount: base * MULTIPLIER[suffix]!, format: suffix.endsWith("i") ? "BinarySI" : "DecimalSI" };
}

/** The amount rounded up to an integer, as Quantity.Value() does ("1.1Gi" is not off by float noise). */
export function quantityValue(q: Quantity): number {
  const nearest = Math.round(q.amount);
  return Math.abs(q.amount - nearest) < 1e-6 ? nearest : Math.ceil(q.amount);
}

const BINARY_SUFFIX = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
const DECIMAL_SUFFIX = ["", "k", "M", "G", "T", "P", "E"];

/**
 * Prints an integer quantity canonically, like Quantity.String(): BinarySI divides by 1024 while
 * exact ("1536Mi", "2Gi"; under 1024 prints plain), DecimalSI by 1000 ("1200", "2k").
 */
export function formatQuantity(value: number, format: QuantityFormat = "BinarySI"): string {
  const v = Math.trunc(value);
  if (v === 0) return "0";
  const sign = v < 0 ? "-" : "";
  let n = Math.abs(v);
  let exp = 0;
  if (format === "BinarySI" && n >= 1024) {
    while (exp < 6 && n % 1024 === 0) {
      n /= 1024;
      exp++;
    }
    return `${sign}${n}${BINARY_SUFFIX[exp]}`;
  }
  while (exp < 6 && n % 1000 === 0) {
    n /= 1000;
    exp++;
  }
  return `${sign}${n}${DECIMAL_SUFFIX[exp]}`;
}
