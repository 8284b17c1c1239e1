import { badRequest } from "./status.js";
import type { Json, KubeObject } from "./types.js";

/** A compiled selector: true when the object matches. */
export type Matcher = (obj: KubeObject) => boolean;

type LabelReq =
  | { op: "=" | "!="; key: string; value: string }
  | { op: "in" | "notin"; key: string; values: string[] }
  | { op: "exists" | "!"; key: string }
  | { op: "gt" | "lt"; key: string; num: number };

/** Splits on commas that are not inside parentheses. */
function splitTop(s: string): string[] {
  const out: string[] = [];
  let depth = 0;
  let cur = "";
  for (const ch of s) {
    if (ch === "(") depth++;
    if (ch === ")") depth--;
    if (ch === "," && depth === 0) {
      out.push(cur);
      cur = "";
    } else cur += ch;
  }
  out.push(cur);
  return out.map((x) => x.trim()).filter((x) => x.length > 0);
}

const LABEL_KEY =
  /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;

/** Parses a label selector (`a=b,c!=d,e in (f,g),!h,i`) like labels.Parse. */
export function parseLabelSelector(selector: string): Matcher | undefined {
  if (!selector.trim()) return undefined;
  const reqs: LabelReq[] = [];
  for (const part of splitTop(selector)) {
    const setBased = part.match(/^(\S+)\s+(in|notin)\s+\(([^)]*)\)$/);
    const equality = part.match(/^([^=!<>\s]+)\s*(==|=|!=)\s*(\S*)$/);
    const numeric = part.match(/^([^=!<>\s]+)\s*([<>])\s*(-?\d+)$/);
    const absent = part.match(/^!\s*(\S+)$/);
    const present = part.match(/^(\S+)$/);
    let req: LabelReq;
    if (setBased) {
      req = {
        op: setBased[2] as "in" | "notin",
        key: setBased[1]!,
        values: setBased[3]!
          .split(",")
          .map((v) => v.trim())
          .filter((v) => v.length > 0),
      };
    } else if (equality) {
      req = { op: equality[2] === "!=" ? "!=" : "=", key: equality[1]!, value: equality[3]! };
    } else if (numeric) {
      req = { op: numeric[2] === ">" ? "gt" : "lt", key: numeric[1]!, num: Number(numeric[3]) };
    } else if (absent) {
      req = { op: "!", key: absent[1]! };
    } else if (present) {
      req = { op: "exists", key: present[1]! };
    } else {
      throw badRequest(`unable to parse requirement: found '${part}', expected: key, operator or values`);
    }
    if (!LABEL_KEY.test(req.key) || req.key.length > 317) {
      throw badRequest(
        `unable to parse requirement: invalid label key "${req.key}": name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character`,
      );
    }
    reqs.push(req);
  }
  return (obj) => {
    const labels = obj.metadata.labels ?? {};
    for (const r of reqs) {
      const has = Object.hasOwn(labels, r.key);
      const v = labels[r.key];
      switch (r.op) {
        case "=":
          if (v !== r.value) return false;
          break;
        case "!=":
          if (has && v === r.value) return false;
          break;
        case "in":
          if (!has || !r.values.includes(v!)) return false;
          break;
        case "notin":
          if (has && r.values.includes(v!)) return false;
          break;
        case "exists":
          if (!has) return false;
          break;
        case "!":
          if (has) return false;
          break;
        case "gt":
        case "lt": {
          const n = Number(v);
          if (!has || Number.isNaN(n) || (r.op === "gt" ? !(n > r.num) : !(n < r.num))) return false;
        }
      }
    }
    return true;
  };
}

/** Reads a dotted field path, rendering it the way field selectors compare (strings). */
export function fieldValue(obj: KubeObject, path: string): string {
  let cur: Json = obj;
  for (const p of path.split(".")) {
    if (cur === null || typeof cur !== "object") return "";
    cur = cur[p];
  }
  if (cur === undefined || cur === null)
    return path === "spec.hostNetwork" || path === "spec.unschedulable" ? "false" : "";
  return String(cur);
}

/**
 * Parses a field selector against the labels a resource supports; unknown labels are a
 * BadRequest like upstream ("field label not supported: x").
 */
export function parseFieldSelector(
  selector: string,
  supported: readonly string[],
  mapPath: (path: string) => string = (p) => p,
): Matcher | undefined {
  if (!selector.trim()) return undefined;
  const reqs: { path: string; neg: boolean; value: string }[] = [];
  for (const part of splitTop(selector)) {
    const m = part.match(/^([^=!\s]+)\s*(==|=|!=)\s*(.*)$/);
    if (!m) throw badRequest(`invalid selector: '${selector}'; can't understand '${part}'`);
    const path = m[1]!;
    if (path !== "metadata.name" && path !== "metadata.namespace" && !supported.includes(path)) {
      throw badRequest(`field label not supported: ${path}`);
    }
    reqs.push({ path: mapPath(path), neg: m[2] === "!=", value: m[3]!.trim() });
  }
  return (obj) => {
    for (const r of reqs) {
      const v = fieldValue(obj, r.path);
      if (r.neg ? v === r.value : v !== r.value) return false;
    }
    return true;
  };
}
