import { describe, expect, it } from "vitest";
import { formatQuantity, parseQuantity } from "./quantity.js";

describe("parseQuantity", () => {
  it.each([
    ["100Mi", 100 * 2 ** 20, "BinarySI"],
    ["1.5Gi", 1.5 * 2 ** 30, "BinarySI"],
    ["2G", 2e9, "DecimalSI"],
    ["1200", 1200, "DecimalSI"],
    ["1e3", 1000, "DecimalSI"],
    ["500m", 1, "DecimalSI"],
    ["0", 0, "DecimalSI"],
  ])("parses %s", (input, value, format) => {
    expect(parseQuantity(input)).toEqual({ value, format });
  });

  it.each(["", "abc", "10%", "1Gib", "1..2", "Mi"])("rejects %j naming the input", (input) => {
    expect(() => parseQuantity(input)).toThrow(`invalid quantity ${JSON.stringify(input)}`);
  });
});

describe("formatQuantity (canonical like Quantity.String)", () => {
  it.each([
    [1.5 * 2 ** 30, "BinarySI", "1536Mi"],
    [2 * 2 ** 30, "BinarySI", "2Gi"],
    [1500 * 2 ** 20, "BinarySI", "1500Mi"],
    [123456789, "BinarySI", "123456789"],
    [1000, "BinarySI", "1k"],
    [500, "DecimalSI", "500"],
    [1200, "DecimalSI", "1200"],
    [2000, "DecimalSI", "2k"],
    [0, "BinarySI", "0"],
  ] as const)("%d %s -> %s", (value, format, text) => {
    expect(formatQuantity(value, format)).toBe(text);
  });
});
