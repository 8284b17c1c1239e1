/**
 * Cron schedules as the CronJob controller reads them (github.com/robfig/cron/v3 ParseStandard):
 * five fields (minute hour day-of-month month day-of-week) with `*`, `?`, lists, ranges, steps and
 * month / weekday names, or a descriptor (`@yearly`, `@annually`, `@monthly`, `@weekly`, `@daily`,
 * `@midnight`, `@hourly`, `@every <duration>`). Parse errors carry the parser's messages, which
 * kube-apiserver puts into the 422 for `spec.schedule`. Times are evaluated in an IANA time zone
 * (`spec.timeZone`), UTC by default.
 */

interface Bounds {
  min: number;
  max: number;
  names?: Record<string, number>;
}

const MONTHS: Bounds = {
  min: 1,
  max: 12,
  names: {
    jan: 1,
    feb: 2,
    mar: 3,
    apr: 4,
    may: 5,
    jun: 6,
    jul: 7,
    aug: 8,
    sep: 9,
    oct: 10,
    nov: 11,
    dec: 12,
  },
};
const DOW: Bounds = { min: 0, max: 6, names: { sun: 0, mon: 1, tue: 2, wed: 3, thu: 4, fri: 5, sat: 6 } };
const FIELDS: Bounds[] = [{ min: 0, max: 59 }, { min: 0, max: 23 }, { min: 1, max: 31 }, MONTHS, DOW];

const DESCRIPTORS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

/** A parsed schedule: `next(ms)` is the first activation strictly after `ms`. */
export interface CronSchedule {
  next(afterMs: number): number;
}

/** Thrown for a schedule robfig/cron refuses; the message is the parser's. */
export class CronParseError extends Error {}

function parseInt10(s: string): number {
  if (!/^-?\d+$/.test(s))
    throw new CronParseError(`failed to parse int from ${s}: strconv.Atoi: parsing "${s}": invalid syntax`);
  return Number.parseInt(s, 10);
}

function value(s: string, b: Bounds): number {
  return b.names?.[s.toLowerCase()] ?? parseInt10(s);
}

/** getRange of robfig/cron: one comma-separated part of a field. */
function parseRange(expr: string, b: Bounds, out: Set<number>): boolean {
  const [rangeText, stepText, ...more] = expr.split("/");
  if (more.length) throw new CronParseError(`too many slashes: ${expr}`);
  const lowHigh = rangeText!.split("-");
  let start: number;
  let end: number;
  let star = false;
  if (lowHigh[0] === "*" || lowHigh[0] === "?") {
    start = b.min;
    end = b.max;
    star = true;
  } else {
    start = value(lowHigh[0]!, b);
    if (lowHigh.length === 1) end = start;
    else if (lowHigh.length === 2) end = value(lowHigh[1]!, b);
    else throw new CronParseError(`too many hyphens: ${expr}`);
  }
  let step = 1;
  if (stepText !== undefined) {
    step = parseInt10(stepText);
    if (step <= 0) throw new CronParseError(`step of range should be a positive number: ${expr}`);
    if (lowHigh.length === 1 && !star) end = b.max; // "N/step" means N-max/step
    if (step > 1) star = false;
  }
  if (start < b.min)
    throw new CronParseError(`beginning of range (${start}) below minimum (${b.min}): ${expr}`);
  if (end > b.max) throw new CronParseError(`end of range (${end}) above maximum (${b.max}): ${expr}`);
  if (start > end)
    throw new CronParseError(`beginning of range (${start}) beyond end of range (${end}): ${expr}`);
  for (let v = start; v <= end; v += step) out.add(v);
  return star;
}

/** Go's time.ParseDuration for `@every` (h, m, s, ms; fractions allowed). */
function parseGoDurationMs(s: string): number {
  const re = /(\d+(?:\.\d+)?)(h|ms|m|s|us|µs|ns)/g;
  if (!/^((\d+(\.\d+)?)(h|ms|m|s|us|µs|ns))+$/.test(s))
    throw new CronParseError(`failed to parse duration ${s}: time: invalid duration "${s}"`);
  const unit: Record<string, number> = {
    h: 3_600_000,
    m: 60_000,
    s: 1000,
    ms: 1,
    us: 0.001,
    µs: 0.001,
    ns: 0.000001,
  };
  let ms = 0;
  for (const m of s.matchAll(re)) ms += Number.parseFloat(m[1]!) * unit[m[2]!]!;
  return ms;
}

/** Wall-clock parts of an instant in a time zone (UTC when `zone` is undefined). */
type Wall = { y: number; mo: number; d: number; h: number; mi: number; dow: number };

const formatters = new Map<string, Intl.DateTimeFormat>();
function offsetMs(zone: string | undefined, ms: number): number {
  if (!zone || zone === "UTC") return 0;
  let f = formatters.get(zone);
  if (!f) {
    f = new Intl.DateTimeFormat("en-US", {
      timeZone: zone,
      hourCycle: "h23",
      year: "numeric",
      month: "numeric",
      day: "numeric",
      hour: "numeric",
      minute: "numeric",
      second: "numeric",
    });
    formatters.set(zone, f);
  }
  const p: Record<string, number> = {};
  for (const part of f.formatToParts(new Date(ms)))
    if (part.type !== "literal") p[part.type] = Number(part.value);
  const wall = Date.UTC(p.year!, p.month! - 1, p.day!, p.hour!, p.minute!, p.second!);
  return wall - Math.floor(ms / 1000) * 1000;
}

/** Whether `zone` is an IANA time zone this runtime knows (time.LoadLocation). */
export function isKnownTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat("en-US", { timeZone: zone });
    return true;
  } catch {
    return false;
  }
}

/**
 * Parses a schedule like cron.ParseStandard. `timeZone` is the CronJob's `spec.timeZone`.
 * @throws CronParseError with robfig/cron's message
 */
export function parseCron(spec: string, timeZone?: string): CronSchedule {
  let text = spec.trim();
  if (!text) throw new CronParseError("empty spec string");
  // a "TZ=<zone> " or "CRON_TZ=<zone> " prefix names the zone (the API refuses it in CronJobs)
  if (text.startsWith("TZ=") || text.startsWith("CRON_TZ=")) {
    const space = text.indexOf(" ");
    const zone = text.slice(text.indexOf("=") + 1, space < 0 ? text.length : space);
    if (!isKnownTimeZone(zone))
      throw new CronParseError(`provided bad location ${zone}: unknown time zone ${zone}`);
    timeZone = zone;
    text = space < 0 ? "" : text.slice(space).trim();
  }
  if (text.startsWith("@every ")) {
    const every = parseGoDurationMs(text.slice(7).trim());
    const delay = Math.max(1000, every - (every % 1000));
    // ConstantDelaySchedule: the next whole second after t + delay
    return { next: (after) => Math.floor((after + delay) / 1000) * 1000 };
  }
  if (text.startsWith("@")) {
    const d = DESCRIPTORS[text.toLowerCase()];
    if (!d) throw new CronParseError(`unrecognized descriptor: ${text}`);
    text = d;
  }
  const parts = text.split(/\s+/);
  if (parts.length !== 5)
    throw new CronParseError(`expected exactly 5 fields, found ${parts.length}: [${parts.join(" ")}]`);
  const sets: Set<number>[] = [];
  const stars: boolean[] = [];
  parts.forEach((p, i) => {
    const set = new Set<number>();
    let star = false;
    for (const r of p.split(",")) star = parseRange(r, FIELDS[i]!, set) || star;
    sets.push(set);
    stars.push(star);
  });
  const [minutes, hours, doms, months, dows] = sets as [
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
    Set<number>,
  ];
  // dayMatches: with either day field a '*', both must match; otherwise either may
  const dayMatches = (w: Wall): boolean =>
    stars[2] || stars[4] ? doms.has(w.d) && dows.has(w.dow) : doms.has(w.d) || dows.has(w.dow);
  const toWall = (ms: number): Wall => {
    const t = new Date(ms);
    return {
      y: t.getUTCFullYear(),
      mo: t.getUTCMonth() + 1,
      d: t.getUTCDate(),
      h: t.getUTCHours(),
      mi: t.getUTCMinutes(),
      dow: t.getUTCDay(),
    };
  };
  return {
    next(afterMs) {
      // search in wall-clock time of the zone, then map the wall time back to an instant
      let wall = Math.floor((afterMs + offsetMs(timeZone, afterMs)) / 60_000) * 60_000 + 60_000;
      const limit = wall + 5 * 366 * 86_400_000;
      while (wall < limit) {
        const w = toWall(wall);
        if (!months.has(w.mo)) {
          wall = Date.UTC(w.y, w.mo, 1);
          continue;
        }
        if (!dayMatches(w)) {
          wall = Date.UTC(w.y, w.mo - 1, w.d + 1);
          continue;
        }
        if (!hours.has(w.h)) {
          wall = Date.UTC(w.y, w.mo - 1, w.d, w.h + 1);
          continue;
        }
        if (!minutes.has(w.mi)) {
          wall += 60_000;
          continue;
        }
        let instant = wall - offsetMs(timeZone, wall);
        instant = wall - offsetMs(timeZone, instant);
        if (instant > afterMs) return instant;
        wall += 60_000;
      }
      return Number.POSITIVE_INFINITY; // e.g. "0 0 30 2 *": never
    },
  };
}
