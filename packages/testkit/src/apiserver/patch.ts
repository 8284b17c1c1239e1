import { badRequest, StatusFailure } from "./status.js";
import type { Json } from "./types.js";

const isObj = (v: Json): v is Record<string, Json> =>
  v !== null && typeof v === "object" && !Array.isArray(v);

/** Deep-copies plain JSON (objects from the store are shared and must not be mutated). */
export function cloneJson<T>(v: T): T {
  return structuredClone(v);
}

function unescapePointer(s: string): string {
  return s.replace(/~1/g, "/").replace(/~0/g, "~");
}

function jsonPatchError(message: string): StatusFailure {
  // mirrors apiserver: JSON patch application failures are 422 Invalid
  return new StatusFailure(422, "Invalid", message);
}

/** Applies an RFC 6902 JSON patch to a copy of `doc`. */
export function applyJsonPatch(doc: Json, patch: Json): Json {
  if (!Array.isArray(patch))
    throw badRequest("json: cannot unmarshal object into Go value of type jsonpatch.Patch");
  let root = cloneJson(doc);
  const resolve = (path: string): { parent: Json; key: string } => {
    if (typeof path !== "string" || (path !== "" && !path.startsWith("/")))
      throw jsonPatchError(
        `the server rejected our request due to an error in our request: invalid JSON pointer "${String(path)}"`,
      );
    const parts = path.split("/").slice(1).map(unescapePointer);
    let parent: Json = root;
    for (let i = 0; i < parts.length - 1; i++) {
      const p = parts[i]!;
      parent = Array.isArray(parent) ? parent[Number(p)] : isObj(parent) ? parent[p] : undefined;
      if (parent === undefined || parent === null || typeof parent !== "object")
        throw jsonPatchError(
          `the server rejected our request due to an error in our request: doc is missing path: "${path}": missing value`,
        );
    }
    return { parent, key: parts[parts.length - 1] ?? "" };
  };
  const get = (path: string): Json => {
    if (path === "") return root;
    const { parent, key } = resolve(path);
    const v = Array.isArray(parent) ? parent[Number(key)] : parent[key];
    if (v === undefined)
      throw jsonPatchError(
        `the server rejected our request due to an error in our request: doc is missing path: "${path}": missing value`,
      );
    return v;
  };
  const remove = (path: string): Json => {
    const { parent, key } = resolve(path);
    if (Array.isArray(parent)) {
      const i = Number(key);
      if (!Number.isInteger(i) || i < 0 || i >= parent.length)
        throw jsonPatchError(
          `the server rejected our request due to an error in our request: unable to remove nonexistent key: ${key}: missing value`,
        );
      return parent.splice(i, 1)[0];
    }
    if (!Object.hasOwn(parent, key))
      throw jsonPatchError(
        `the server rejected our request due to an error in our request: unable to remove nonexistent key: ${key}: missing value`,
      );
    const v = parent[key];
    delete parent[key];
    return v;
  };
  const add = (path: string, value: Json, replace: boolean): void => {
    if (path === "") {
      root = value;
      return;
    }
    const { parent, key } = resolve(path);
    if (Array.isArray(parent)) {
      const i = key === "-" ? parent.length : Number(key);
      if (!Number.isInteger(i) || i < 0 || i > parent.length - (replace ? 1 : 0))
        throw jsonPatchError(
          `the server rejected our request due to an error in our request: add operation does not apply: doc is missing path: "${path}": missing value`,
        );
      if (replace) parent[i] = value;
      else parent.splice(i, 0, value);
      return;
    }
    if (replace && !Object.hasOwn(parent, key))
      throw jsonPatchError(
        `the server rejected our request due to an error in our request: replace operation does not apply: doc is missing key: ${path}: missing value`,
      );
    parent[key] = value;
  };
  for (const op of patch) {
    if (!isObj(op)) throw badRequest("invalid JSON patch operation");
    const path = op.path as string;
    switch (op.op) {
      case "add":
        add(path, cloneJson(op.value), false);
        break;
      case "replace":
        add(path, cloneJson(op.value), true);
        break;
      case "remove":
        remove(path);
        break;
      case "move": {
        const v = remove(op.from as string);
        add(path, v, false);
        break;
      }
      case "copy":
        add(path, cloneJson(get(op.from as string)), false);
        break;
      case "test":
        if (JSON.stringify(get(path)) !== JSON.stringify(op.value))
          throw jsonPatchError(
            `the server rejected our request due to an error in our request: testing value ${path} failed: test failed`,
          );
        break;
      default:
        // apiserver wraps JSON patch application errors in a generic 422 (NewGenericServerResponse)
        throw new StatusFailure(
          422,
          "Invalid",
          "the server rejected our request due to an error in our request",
          {},
        );
    }
  }
  return root;
}

/** Applies an RFC 7386 JSON merge patch (null deletes, arrays replace). */
export function applyMergePatch(doc: Json, patch: Json): Json {
  if (!isObj(patch)) return cloneJson(patch);
  const out: Record<string, Json> = isObj(doc) ? { ...doc } : {};
  for (const [k, v] of Object.entries(patch)) {
    if (v === null) delete out[k];
    else out[k] = isObj(v) ? applyMergePatch(out[k], v) : cloneJson(v);
  }
  return out;
}

/**
 * Strategic-merge-patch metadata of the built-in types we serve: path (with `[]` for list
 * items) -> merge key, or "" for merge-strategy primitive lists. Lists absent here are replaced,
 * mirroring the `patchStrategy`/`patchMergeKey` struct tags of k8s.io/api.
 */
const META_KEYS: Record<string, string> = {
  "metadata.finalizers": "",
  "metadata.ownerReferences": "uid",
};
const CONTAINER_KEYS = (p: string): Record<string, string> => ({
  [`${p}[].ports`]: "containerPort",
  [`${p}[].env`]: "name",
  [`${p}[].volumeMounts`]: "mountPath",
  [`${p}[].volumeDevices`]: "devicePath",
});
const POD_SPEC = (p: string): Record<string, string> => ({
  [`${p}.containers`]: "name",
  [`${p}.initContainers`]: "name",
  [`${p}.ephemeralContainers`]: "name",
  [`${p}.volumes`]: "name",
  [`${p}.imagePullSecrets`]: "name",
  [`${p}.hostAliases`]: "ip",
  [`${p}.topologySpreadConstraints`]: "topologyKey",
  [`${p}.resourceClaims`]: "name",
  [`${p}.schedulingGates`]: "name",
  ...CONTAINER_KEYS(`${p}.containers`),
  ...CONTAINER_KEYS(`${p}.initContainers`),
  ...CONTAINER_KEYS(`${p}.ephemeralContainers`),
});
export const MERGE_KEYS: Record<string, Record<string, string>> = {
  Pod: {
    ...META_KEYS,
    ...POD_SPEC("spec"),
    "status.conditions": "type",
    "status.podIPs": "ip",
    "status.hostIPs": "ip",
    "status.resourceClaimStatuses": "name",
  },
  Node: {
    ...META_KEYS,
    "spec.podCIDRs": "",
    "status.conditions": "type",
    "status.addresses": "type",
  },
  Service: { ...META_KEYS, "spec.ports": "port", "status.conditions": "type" },
  Namespace: { ...META_KEYS, "status.conditions": "type" },
  ServiceAccount: { ...META_KEYS, secrets: "name" },
  PodDisruptionBudget: { ...META_KEYS, "status.conditions": "type" },
  Deployment: { ...META_KEYS, ...POD_SPEC("spec.template.spec"), "status.conditions": "type" },
  ReplicaSet: { ...META_KEYS, ...POD_SPEC("spec.template.spec"), "status.conditions": "type" },
  Job: { ...META_KEYS, ...POD_SPEC("spec.template.spec"), "status.conditions": "type" },
  DaemonSet: { ...META_KEYS, ...POD_SPEC("spec.template.spec"), "status.conditions": "type" },
  StatefulSet: { ...META_KEYS, ...POD_SPEC("spec.template.spec"), "status.conditions": "type" },
};

function strategicFor(kind: string): Record<string, string> {
  return MERGE_KEYS[kind] ?? META_KEYS;
}

/**
 * Applies a strategic merge patch: maps merge recursively, lists with a merge key merge by key,
 * `$patch: replace|delete`, `$retainKeys`, `$deleteFromPrimitiveList/x` and
 * `$setElementOrder/x` directives are honoured (apimachinery strategicpatch semantics).
 */
export function applyStrategicMergePatch(doc: Json, patch: Json, kind: string): Json {
  if (!isObj(patch)) throw badRequest("strategic merge patch must be a JSON object");
  return smpMap(doc, patch, "", strategicFor(kind));
}

function smpMap(doc: Json, patch: Record<string, Json>, path: string, keys: Record<string, string>): Json {
  if (patch.$patch === "replace") {
    const { $patch: _, ...rest } = patch;
    return cloneJson(rest);
  }
  if (patch.$patch === "delete") return undefined;
  const out: Record<string, Json> = isObj(doc) ? { ...doc } : {};
  if (Array.isArray(patch.$retainKeys)) {
    for (const k of Object.keys(out)) if (!patch.$retainKeys.includes(k)) delete out[k];
  }
  for (const [k, v] of Object.entries(patch)) {
    if (k === "$patch" || k === "$retainKeys") continue;
    if (k.startsWith("$deleteFromPrimitiveList/")) {
      const f = k.slice("$deleteFromPrimitiveList/".length);
      if (Array.isArray(out[f]) && Array.isArray(v)) out[f] = out[f].filter((x: Json) => !v.includes(x));
      continue;
    }
    if (k.startsWith("$setElementOrder/")) continue;
    const childPath = path ? `${path}.${k}` : k;
    if (v === null) {
      delete out[k];
    } else if (isObj(v)) {
      const merged = smpMap(out[k], v, childPath, keys);
      if (merged === undefined) delete out[k];
      else out[k] = merged;
    } else if (Array.isArray(v)) {
      const order = patch[`$setElementOrder/${k}`];
      out[k] = smpList(out[k], v, childPath, keys, Array.isArray(order) ? order : undefined);
    } else out[k] = v;
  }
  return out;
}

function smpList(
  doc: Json,
  patch: Json[],
  path: string,
  keys: Record<string, string>,
  order?: Json[],
): Json[] {
  const mergeKey = keys[path];
  if (mergeKey === undefined) {
    return cloneJson(patch.filter((x) => !(isObj(x) && x.$patch)));
  }
  const base: Json[] = Array.isArray(doc) ? doc.slice() : [];
  if (mergeKey === "") {
    // merge-strategy list of primitives: union, keeping order
    for (const v of patch) if (!base.includes(v)) base.push(v);
    if (order) return sortByOrder(base, order, (x) => x);
    return base;
  }
  if (patch.some((p) => isObj(p) && p.$patch === "replace")) {
    return cloneJson(patch.filter((p) => !(isObj(p) && p.$patch === "replace")));
  }
  for (const item of patch) {
    if (!isObj(item)) continue;
    const key = item[mergeKey];
    const i = base.findIndex((b) => isObj(b) && b[mergeKey] === key);
    if (item.$patch === "delete") {
      if (i >= 0) base.splice(i, 1);
      continue;
    }
    if (i >= 0) base[i] = smpMap(base[i], item, `${path}[]`, keys);
    else base.push(smpMap(undefined, item, `${path}[]`, keys));
  }
  if (order) return sortByOrder(base, order, (x) => (isObj(x) ? x[mergeKey] : x), mergeKey);
  return base;
}

function sortByOrder(items: Json[], order: Json[], keyOf: (x: Json) => Json, mergeKey?: string): Json[] {
  const pos = (x: Json): number => {
    const k = keyOf(x);
    const i = order.findIndex((o) => (mergeKey && isObj(o) ? o[mergeKey] === k : o === k));
    return i < 0 ? Number.MAX_SAFE_INTEGER : i;
  };
  return items
    .map((x, i) => ({ x, i, p: pos(x) }))
    .sort((a, b) => a.p - b.p || a.i - b.i)
    .map((e) => e.x);
}

/** Structural equality of JSON values, ignoring object key order. */
export function deepEqual(a: Json, b: Json): boolean {
  if (a === b) return true;
  if (typeof a !== typeof b || a === null || b === null || typeof a !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) return a.length === b.length && a.every((x: Json, i: number) => deepEqual(x, b[i]));
  const ka = Object.keys(a).filter((k) => a[k] !== undefined);
  const kb = Object.keys(b).filter((k) => b[k] !== undefined);
  return ka.length === kb.length && ka.every((k) => deepEqual(a[k], b[k]));
}
