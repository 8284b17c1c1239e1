import { EvictionError } from "./errors.js";

/**
 * How a quantity prints: BinarySI uses Ki/Mi/Gi..., DecimalSI uses k/M/G...
 * Mirrors the two formats of apimachinery's resource.Quantity that eviction messages use.
 */
export type QuantityFormat = "BinarySI" | "DecimalSI";

/** A parsed quantity: an integer value (rounded up, like Quantity.Value()) and its print format. */
export interface ParsedQuantity {
  value: number;
  format: QuantityFormat;
}

const BINARY: Record<string, number> = {
  Ki: 2 ** 10,
  Mi: 2 ** 20,
  Gi: 2 ** 30,
  Ti: 2 ** 40,
  Pi: 2 ** 50,
  Ei: 2 ** 60,
};
const DECIMAL: Record<string, number> = {
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
};

const QUANTITY_RE = /^([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE])?$/;

/**
 * Parses a Kubernetes quantity ("100Mi", "1.5Gi", "2G", "500m", "1e3", "1200").
 * The value is rounded up to an integer, as Quantity.Value() does.
 * @throws EvictionError code InvalidThreshold naming the input when it is not a quantity.
 */
export function parseQuantity(input: string): ParsedQuantity {
  const text = input.trim();
  const m = QUANTITY_RE.exec(text);
  if (!m) {
    throw new EvictionError(
      "InvalidThreshold",
      `invalid quantity ${JSON.stringify(input)}: expected a number with an optional suffix like 100Mi, 1Gi, 500M or 1e3`,
    );
  }
  const num = Number(m[1]);
  const suffix = m[2] ?? "";
  let value: number;
  let format: QuantityFormat = "DecimalSI";
  if (suffix in BINARY) {
    value = num * BINARY[suffix]!;
    format = "BinarySI";
  } else if (/^[eE]/.test(suffix)) {
    value = num * 10 ** Number(suffix.slice(1));
  } else {
    value = num * DECIMAL[suffix]!;
  }
  // Guard against float noise (1.1Gi) before rounding up.
  const rounded = Math.abs(value - Math.round(value)) < 1e-6 ? Math.round(value) : Math.ceil(value);
  return { value: rounded, format };
}

const BIN_SUFFIX = ["", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"];
const DEC_SUFFIX = ["", "k", "M", "G", "T", "P", "E"];

/**
 * Prints an integer quantity in canonical form, like Quantity.String():
 * BinarySI divides by 1024 while exact ("1536Mi", "2Gi"; values under 1024 print decimal),
 * DecimalSI divides by 1000 while exact ("1200", "2k").
 */
export function formatQuantity(value: number, format: QuantityFormat = "BinarySI"): string {
  const v = Math.trunc(value);
  if (v === 0) return "0";
  const neg = v < 0;
  let n = Math.abs(v);
  let exp = 0;
  if (format === "BinarySI" && n >= 1024) {
    while (exp < 6 && n % 1024 === 0) {
      n /= 1024;
      exp++;
    }
    return `${neg ? "-" : ""}${n}${BIN_SUFFIX[exp]}`;
  }
  while (exp < 6 && n % 1000 === 0) {
    n /= 1000;
    exp++;
  }
  return `${neg ? "-" : ""}${n}${DEC_SUFFIX[exp]}`;
}
