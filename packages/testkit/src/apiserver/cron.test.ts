import { describe, expect, it } from "vitest";
import { CronParseError, parseCron } from "./cron.js";

const at = (iso: string) => Date.parse(iso);
const iso = (ms: number) => new Date(ms).toISOString();

describe("cron schedules (robfig/cron ParseStandard)", () => {
  it("steps, ranges, lists and names", () => {
    expect(iso(parseCron("*/15 * * * *").next(at("2026-03-02T10:07:00Z")))).toBe("2026-03-02T10:15:00.000Z");
    expect(iso(parseCron("*/15 * * * *").next(at("2026-03-02T10:15:00Z")))).toBe("2026-03-02T10:30:00.000Z");
    // hours 9, 13, 17 on weekdays: Friday 17:30, then Monday 09:30
    expect(iso(parseCron("30 9-17/4 * * MON-fri").next(at("2026-03-06T14:00:00Z")))).toBe(
      "2026-03-06T17:30:00.000Z",
    );
    expect(iso(parseCron("30 9-17/4 * * MON-fri").next(at("2026-03-06T17:30:00Z")))).toBe(
      "2026-03-09T09:30:00.000Z",
    );
    expect(iso(parseCron("0 0 1 jan,jul *").next(at("2026-03-02T00:00:00Z")))).toBe(
      "2026-07-01T00:00:00.000Z",
    );
  });

  it("descriptors", () => {
    expect(iso(parseCron("@hourly").next(at("2026-03-02T10:00:00Z")))).toBe("2026-03-02T11:00:00.000Z");
    expect(iso(parseCron("@weekly").next(at("2026-03-02T10:00:00Z")))).toBe("2026-03-08T00:00:00.000Z");
    expect(iso(parseCron("@yearly").next(at("2026-03-02T10:00:00Z")))).toBe("2027-01-01T00:00:00.000Z");
    expect(iso(parseCron("@every 90s").next(at("2026-03-02T10:00:00Z")))).toBe("2026-03-02T10:01:30.000Z");
  });

  it("day of month OR day of week when neither is '*'", () => {
    // the 13th or any Friday
    expect(iso(parseCron("0 0 13 * 5").next(at("2026-03-02T00:00:00Z")))).toBe("2026-03-06T00:00:00.000Z");
    expect(iso(parseCron("0 0 13 * 5").next(at("2026-03-10T00:00:00Z")))).toBe("2026-03-13T00:00:00.000Z");
  });

  it("evaluates in the CronJob's time zone", () => {
    // 09:00 in Tokyo (UTC+9) is 00:00 UTC; 09:00 in Berlin is 08:00 UTC before and 07:00 after DST
    expect(iso(parseCron("0 9 * * *", "Asia/Tokyo").next(at("2026-03-02T10:00:00Z")))).toBe(
      "2026-03-03T00:00:00.000Z",
    );
    expect(iso(parseCron("0 9 * * *", "Europe/Berlin").next(at("2026-03-27T12:00:00Z")))).toBe(
      "2026-03-28T08:00:00.000Z",
    );
    expect(iso(parseCron("0 9 * * *", "Europe/Berlin").next(at("2026-03-28T12:00:00Z")))).toBe(
      "2026-03-29T07:00:00.000Z",
    );
  });

  it("refuses what the parser refuses, with its messages", () => {
    const err = (spec: string) => {
      try {
        parseCron(spec);
      } catch (e) {
        expect(e).toBeInstanceOf(CronParseError);
        return (e as Error).message;
      }
      return "";
    };
    expect(err("foo")).toBe("expected exactly 5 fields, found 1: [foo]");
    expect(err("61 * * * *")).toBe("end of range (61) above maximum (59): 61");
    expect(err("*/0 * * * *")).toBe("step of range should be a positive number: */0");
    expect(err("5-1 * * * *")).toBe("beginning of range (5) beyond end of range (1): 5-1");
    expect(err("x * * * *")).toBe('failed to parse int from x: strconv.Atoi: parsing "x": invalid syntax');
    expect(err("@fortnightly")).toBe("unrecognized descriptor: @fortnightly");
  });
});
