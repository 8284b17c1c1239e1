import { cloneJson, deepEqual, MERGE_KEYS } from "./patch.js";
import { StatusFailure } from "./status.js";
import type { Json } from "./types.js";

/**
 * Server-side apply, scoped (structured-merge-diff semantics for what node agents and their
 * tests apply): the fields an applied configuration sets become the field manager's set (an
 * `Apply` entry of `metadata.managedFields`, `fieldsV1` form); fields the manager applied before
 * and no longer applies are removed unless another manager owns them; a field another manager
 * owns with a different value is a 409 conflict naming that manager, unless forced, which moves
 * ownership. Maps are granular; lists are granular where the API declares a list-map key
 * (containers / volumes / env / ... by name, container ports by containerPort + protocol, service
 * ports by port + protocol, conditions by type, volume mounts by mountPath); other lists and
 * label selectors are atomic.
 */

/** One path element: a field name, or a list element identified by its key fields. */
type Element = { field: string } | { key: Record<string, Json> };
type Path = Element[];

const isObj = (v: Json): v is Record<string, Json> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** The list-map keys of a list at a type path ("spec.containers", "spec.containers[].ports"). */
function listKeys(kind: string, typePath: string): string[] | undefined {
  const key = MERGE_KEYS[kind]?.[typePath];
  if (!key) return undefined;
  // container and service ports are keyed by port and protocol in the OpenAPI list-map keys
  if (key === "containerPort" || key === "port") return [key, "protocol"];
  return [key];
}

/** Atomic structs (`+structType=atomic`): owned as one field. */
const ATOMIC = new Set(["selector"]);

function elementKey(item: Json, keys: string[]): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const k of [...keys].sort()) out[k] = item?.[k] ?? (k === "protocol" ? "TCP" : undefined);
  return out;
}

/** The set of leaf paths (and list elements) an object sets. */
function fieldPaths(kind: string, obj: Json): Path[] {
  const out: Path[] = [];
  const walk = (node: Json, path: Path, typePath: string): void => {
    for (const [k, v] of Object.entries(node)) {
      if (path.length === 0 && (k === "apiVersion" || k === "kind")) continue;
      if (path.length === 1 && "field" in path[0]! && path[0].field === "metadata" && META_SKIP.has(k))
        continue;
      const p = [...path, { field: k }];
      const tp = typePath ? `${typePath}.${k}` : k;
      const keys = Array.isArray(v) ? listKeys(kind, tp) : undefined;
      if (keys && Array.isArray(v)) {
        for (const item of v) {
          const ep = [...p, { key: elementKey(item, keys) }];
          out.push(ep);
          if (isObj(item)) walk(item, ep, `${tp}[]`);
        }
      } else if (isObj(v) && Object.keys(v).length > 0 && !ATOMIC.has(k)) walk(v, p, tp);
      else out.push(p);
    }
  };
  if (isObj(obj)) walk(obj, [], "");
  return out;
}

/** metadata fields the server owns, never part of a manager's set. */
const META_SKIP = new Set([
  "name",
  "namespace",
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "managedFields",
  "selfLink",
  "generateName",
]);

const elementText = (e: Element): string => ("field" in e ? `f:${e.field}` : `k:${JSON.stringify(e.key)}`);
const pathKey = (p: Path): string => p.map(elementText).join("\u0000");

/** fieldpath.Path.String(): `.spec.containers[name="c"].image`. */
function pathString(p: Path): string {
  return p
    .map((e) =>
      "field" in e
        ? `.${e.field}`
        : `[${Object.entries(e.key)
            .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
            .join(",")}]`,
    )
    .join("");
}

/** The value at a path (undefined if absent). */
function valueAt(obj: Json, p: Path): Json {
  let node = obj;
  for (const e of p) {
    if (node === undefined || node === null) return undefined;
    if ("field" in e) node = isObj(node) ? node[e.field] : undefined;
    else
      node = Array.isArray(node)
        ? node.find((item) =>
            Object.entries(e.key).every(
              ([k, v]) => (item?.[k] ?? (k === "protocol" ? "TCP" : undefined)) === v,
            ),
          )
        : undefined;
  }
  return node;
}

/** Encodes a path set as `fieldsV1` (list elements carry a "." entry for themselves). */
function toFieldsV1(paths: Path[]): Json {
  const root: Json = {};
  for (const p of paths) {
    let node = root;
    p.forEach((e, i) => {
      const t = elementText(e);
      node[t] ??= {};
      node = node[t];
      if (i === p.length - 1 && "key" in e) node["."] = {};
    });
  }
  const sortDeep = (v: Json): Json => {
    const out: Json = {};
    for (const k of Object.keys(v).sort()) out[k] = sortDeep(v[k]);
    return out;
  };
  return sortDeep(root);
}

/** Decodes `fieldsV1` into paths (leaves and "." element entries). */
function fromFieldsV1(f: Json): Path[] {
  const out: Path[] = [];
  const walk = (node: Json, path: Path): void => {
    const keys = Object.keys(node ?? {});
    if (keys.length === 0) {
      if (path.length) out.push(path);
      return;
    }
    for (const k of keys) {
      if (k === ".") {
        out.push(path);
        continue;
      }
      const e: Element | undefined = k.startsWith("f:")
        ? { field: k.slice(2) }
        : k.startsWith("k:")
          ? { key: JSON.parse(k.slice(2)) }
          : undefined;
      if (e) walk(node[k], [...path, e]);
    }
  };
  walk(f, []);
  return out;
}

export interface ApplyResult {
  /** The object to store (metadata.managedFields included). */
  object: Json;
}

function conflictError(conflicts: { manager: string; path: Path }[]): StatusFailure {
  const causes = conflicts.map((c) => ({
    reason: "FieldManagerConflict",
    message: `conflict with "${c.manager}"`,
    field: pathString(c.path),
  }));
  let message: string;
  if (conflicts.length === 1)
    message = `Apply failed with 1 conflict: conflict with "${conflicts[0]!.manager}": ${pathString(conflicts[0]!.path)}`;
  else {
    const lines: string[] = [];
    for (const m of [...new Set(conflicts.map((c) => c.manager))].sort()) {
      lines.push(`conflicts with "${m}":`);
      for (const c of conflicts) if (c.manager === m) lines.push(`- ${pathString(c.path)}`);
    }
    message = `Apply failed with ${conflicts.length} conflicts: ${lines.join("\n")}`;
  }
  return new StatusFailure(409, "Conflict", message, { causes });
}

/** Removes a path's value from an object (a list element by key, a field by name). */
function removeAt(obj: Json, p: Path): void {
  const parent = valueAt(obj, p.slice(0, -1));
  const last = p[p.length - 1]!;
  if ("field" in last) {
    if (isObj(parent)) delete parent[last.field];
  } else if (Array.isArray(parent)) {
    const i = parent.findIndex((item) =>
      Object.entries(last.key).every(([k, v]) => (item?.[k] ?? (k === "protocol" ? "TCP" : undefined)) === v),
    );
    if (i >= 0) parent.splice(i, 1);
  }
}

/** Merges an applied configuration into the live object (maps and list-maps granular). */
function mergeApplied(kind: string, live: Json, applied: Json, typePath: string): Json {
  if (!isObj(applied)) return cloneJson(applied);
  const out: Record<string, Json> = isObj(live) ? { ...live } : {};
  for (const [k, v] of Object.entries(applied)) {
    const tp = typePath ? `${typePath}.${k}` : k;
    const keys = Array.isArray(v) ? listKeys(kind, tp) : undefined;
    if (keys && Array.isArray(v)) {
      const base: Json[] = Array.isArray(out[k]) ? [...out[k]] : [];
      for (const item of v) {
        const key = elementKey(item, keys);
        const i = base.findIndex((b) => deepEqual(elementKey(b, keys), key));
        if (i >= 0) base[i] = mergeApplied(kind, base[i], item, `${tp}[]`);
        else base.push(cloneJson(item));
      }
      out[k] = base;
    } else if (isObj(v) && !ATOMIC.has(k) && Object.keys(v).length > 0)
      out[k] = mergeApplied(kind, out[k], v, tp);
    else out[k] = cloneJson(v);
  }
  return out;
}

/**
 * Applies `applied` for `manager` to `live` (undefined when creating): the merged object with its
 * managedFields, or a 409 conflict. `apiVersion` is recorded in the entry; `nowIso` its time.
 */
export function serverSideApply(opts: {
  kind: string;
  apiVersion: string;
  live: Json | undefined;
  applied: Json;
  manager: string;
  force: boolean;
  nowIso: string;
  subresource?: string;
}): ApplyResult {
  const { kind, live, applied, manager, force } = opts;
  const appliedPaths = fieldPaths(kind, applied);
  const appliedKeys = new Set(appliedPaths.map(pathKey));
  const entries: Json[] = cloneJson(live?.metadata?.managedFields ?? []);
  const mineIndex = entries.findIndex(
    (e) =>
      e.manager === manager && e.operation === "Apply" && (e.subresource ?? "") === (opts.subresource ?? ""),
  );
  const previous = mineIndex >= 0 ? fromFieldsV1(entries[mineIndex].fieldsV1) : [];
  const others = entries
    .map((e, i) => ({ e, i, paths: fromFieldsV1(e.fieldsV1) }))
    .filter(({ i }) => i !== mineIndex);

  // conflicts: a field another manager owns whose live value differs from the applied one
  const conflicts: { manager: string; path: Path }[] = [];
  if (live)
    for (const o of others)
      for (const p of o.paths) {
        if (!appliedKeys.has(pathKey(p))) continue;
        if (p.length && "key" in p[p.length - 1]!) continue; // an element's own entry: shared
        if (!deepEqual(valueAt(live, p), valueAt(applied, p)))
          conflicts.push({ manager: o.e.manager, path: p });
      }
  if (conflicts.length && !force) throw conflictError(conflicts);
  // forced: the conflicting fields leave their former owners
  const taken = new Set(conflicts.map((c) => pathKey(c.path)));
  for (const o of others) {
    const kept = o.paths.filter((p) => !taken.has(pathKey(p)));
    if (kept.length !== o.paths.length) o.e.fieldsV1 = toFieldsV1(kept);
  }
  const ownedByOthers = new Set(
    others.flatMap((o) => o.paths.filter((p) => !taken.has(pathKey(p))).map(pathKey)),
  );

  // fields this manager applied before and no longer applies are removed, unless still owned
  const base = cloneJson(live ?? {});
  const dropped = previous
    .filter((p) => !appliedKeys.has(pathKey(p)) && !ownedByOthers.has(pathKey(p)))
    .sort((a, b) => b.length - a.length);
  for (const p of dropped) removeAt(base, p);
  const { apiVersion: _a, kind: _k, ...body } = applied;
  const merged = mergeApplied(kind, base, body, "");

  const entry = {
    manager,
    operation: "Apply",
    apiVersion: opts.apiVersion,
    time: opts.nowIso,
    fieldsType: "FieldsV1",
    fieldsV1: toFieldsV1(appliedPaths),
    ...(opts.subresource ? { subresource: opts.subresource } : {}),
  };
  const kept = others.filter((o) => Object.keys(o.e.fieldsV1 ?? {}).length > 0).map((o) => o.e);
  // entries keep their order; the manager's own entry is replaced in place or appended
  const managedFields = entries.flatMap((e, i) => (i === mineIndex ? [entry] : kept.includes(e) ? [e] : []));
  if (mineIndex < 0) managedFields.push(entry);
  merged.metadata = { ...(merged.metadata ?? {}), managedFields };
  return { object: merged };
}
