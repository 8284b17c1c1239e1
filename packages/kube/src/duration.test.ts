import { describe, expect, it } from "vitest";
import { formatGoDuration, parseGoDurationMs } from "./duration.js";

const NS = 1e-6;
const US = 1e-3;
const S = 1000;
const MIN = 60 * S;
const H = 60 * MIN;
// Nanosecond counts beyond 2^53 as milliseconds (the precision a number can hold).
const nsToMs = (ns: bigint) => Number(ns) / 1e6;

// The cases of Go's time.ParseDuration test table (src/time/time_test.go, parseDurationTests).
describe("parseGoDurationMs: upstream's valid cases", () => {
  it.each([
    ["0", 0],
    ["5s", 5 * S],
    ["30s", 30 * S],
    ["1478s", 1478 * S],
    ["-5s", -5 * S],
    ["+5s", 5 * S],
    ["-0", 0],
    ["+0", 0],
    ["5.0s", 5 * S],
    ["5.6s", 5.6 * S],
    ["5.s", 5 * S],
    [".5s", 0.5 * S],
    ["1.0s", 1 * S],
    ["1.00s", 1 * S],
    ["1.004s", 1.004 * S],
    ["1.0040s", 1.004 * S],
    ["100.00100s", 100.001 * S],
    ["10ns", 10 * NS],
    ["11us", 11 * US],
    ["12\u00b5s", 12 * US],
    ["12\u03bcs", 12 * US],
    ["13ms", 13],
    ["14s", 14 * S],
    ["15m", 15 * MIN],
    ["16h", 16 * H],
    ["3h30m", 3.5 * H],
    ["10.5s4m", 4 * MIN + 10.5 * S],
    ["-2m3.4s", -(2 * MIN + 3.4 * S)],
    ["1h2m3s4ms5us6ns", H + 2 * MIN + 3 * S + 4 + 5 * US + 6 * NS],
    ["39h9m14.425s", 39 * H + 9 * MIN + 14.425 * S],
    ["52763797000ns", 52763797000 * NS],
    ["0.3333333333333333333h", 20 * MIN],
    ["9007199254740993ns", nsToMs(9007199254740993n)],
    ["9223372036854775807ns", nsToMs(9223372036854775807n)],
    ["9223372036854775.807us", nsToMs(9223372036854775807n)],
    ["9223372036s854ms775us807ns", nsToMs(9223372036854775807n)],
    ["-9223372036854775808ns", nsToMs(-9223372036854775808n)],
    ["-9223372036854775.808us", nsToMs(-9223372036854775808n)],
    ["-9223372036s854ms775us808ns", nsToMs(-9223372036854775808n)],
    ["0.100000000000000000000h", 6 * MIN],
    ["0.830103483285477580700h", 49 * MIN + 48.372539827 * S],
  ] as const)("%j is %d ms", (input, ms) => {
    expect(parseGoDurationMs(input)).toBeCloseTo(ms, 6);
  });
});

describe("parseGoDurationMs: upstream's invalid cases", () => {
  it.each([
    "",
    "3",
    "-",
    "s",
    ".",
    "-.",
    ".s",
    "+.s",
    "1d",
    "\x85\x85",
    "\xffff",
    "hello \xffff world",
    "9223372036854775808ns",
    "9223372036854775.808us",
    "9223372036854ms775us808ns",
    "-9223372036854775809ns",
  ])("rejects %j naming it", (input) => {
    expect(() => parseGoDurationMs(input)).toThrow(
      expect.objectContaining({
        code: "InvalidArgument",
        message: expect.stringContaining(JSON.stringify(input)),
      }),
    );
  });
});

// Go's Duration.String cases (durationTests in time_test.go), in milliseconds.
describe("formatGoDuration", () => {
  it.each([
    [0, "0s"],
    [1 * NS, "1ns"],
    [1.1 * US, "1.1\u00b5s"],
    [2.2, "2.2ms"],
    [3.3 * S, "3.3s"],
    [4 * MIN + 5 * S, "4m5s"],
    [4 * MIN + 5001, "4m5.001s"],
    [5 * H + 6 * MIN + 7001, "5h6m7.001s"],
    [8 * MIN + 1 * NS, "8m0.000000001s"],
    [-1 * NS, "-1ns"],
    [30 * S, "30s"],
    [H, "1h0m0s"],
  ] as const)("%d ms prints %j", (ms, text) => {
    expect(formatGoDuration(ms)).toBe(text);
  });

  it("round-trips what it prints", () => {
    for (const ms of [0, 1, 999, 1500, 90_000, 3_600_000, 0.0015]) {
      expect(parseGoDurationMs(formatGoDuration(ms))).toBeCloseTo(ms, 9);
    }
  });
});
