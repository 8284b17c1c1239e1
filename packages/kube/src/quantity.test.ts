import { describe, expect, it } from "vitest";
import { formatQuantity, parseQuantity, quantityValue } from "./quantity.js";

describe("parseQuantity", () => {
  it.each([
    ["100m", 0.1, "DecimalSI"],
    ["1.5Gi", 1.5 * 2 ** 30, "BinarySI"],
    ["2G", 2e9, "DecimalSI"],
    ["2e3", 2000, "DecimalSI"],
    ["512", 512, "DecimalSI"],
    [" 64Ki ", 65536, "BinarySI"],
    ["-1k", -1000, "DecimalSI"],
  ] as const)("%s", (text, amount, format) => {
    const q = parseQuantity(text);
    expect(q.amount).toBeCloseTo(amount, 9);
    expect(q.format).toBe(format);
  });

  it.each(["", "Mi", "1.2.3", "10 Mi", "1KB", "abc"])("rejects %j naming it", (text) => {
    expect(() => parseQuantity(text)).toThrow(`invalid quantity ${JSON.stringify(text)}`);
  });
});

describe("quantityValue (Quantity.Value)", () => {
  it("rounds fractions up but ignores float noise", () => {
    expect(quantityValue(parseQuantity("100m"))).toBe(1);
    expect(quantityValue(parseQuantity("1.1Gi"))).toBe(Math.ceil(1.1 * 2 ** 30));
    expect(quantityValue(parseQuantity("0.3"))).toBe(1);
    expect(quantityValue(parseQuantity("25e-1"))).toBe(3);
    expect(quantityValue(parseQuantity("1.5"))).toBe(2);
  });
});

describe("formatQuantity (Quantity.String)", () => {
  it.each([
    [1536 * 2 ** 20, "BinarySI", "1536Mi"],
    [2 * 2 ** 30, "BinarySI", "2Gi"],
    // under 1024 a BinarySI value prints as DecimalSI, as upstream canonicalises it
    [1000, "BinarySI", "1k"],
    [512, "BinarySI", "512"],
    [1200, "DecimalSI", "1200"],
    [2000, "DecimalSI", "2k"],
    [0, "DecimalSI", "0"],
    [-3 * 2 ** 20, "BinarySI", "-3Mi"],
  ] as const)("%d %s -> %s", (value, format, text) => {
    expect(formatQuantity(value, format)).toBe(text);
  });
});
