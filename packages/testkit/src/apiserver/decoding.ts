import type { ResourceDef } from "./resources.js";
import { badRequest } from "./status.js";
import type { Json } from "./types.js";

/**
 * What kube-apiserver's decoder refuses before any validation: a body whose apiVersion is not the
 * resource's (the scheme has no such kind there) and values of the wrong JSON type in typed
 * fields (encoding/json's UnmarshalTypeError). Both are 400 BadRequest with the decoder's text.
 */

const jsonType = (v: Json): string =>
  Array.isArray(v) ? "array" : v === null ? "null" : typeof v === "boolean" ? "bool" : typeof v;

interface Typed {
  /** Dotted path below the object root; `*` stands for every key of a map. */
  path: string;
  /** The Go struct holding the field and the Go type, as encoding/json names them. */
  struct: string;
  type: "string" | "[]uint8" | "int32" | "map[string]string";
}

const META: Typed[] = [
  { path: "metadata.labels", struct: "ObjectMeta", type: "map[string]string" },
  { path: "metadata.labels.*", struct: "ObjectMeta", type: "string" },
  { path: "metadata.annotations", struct: "ObjectMeta", type: "map[string]string" },
  { path: "metadata.annotations.*", struct: "ObjectMeta", type: "string" },
];
const BY_KIND: Record<string, Typed[]> = {
  ConfigMap: [
    { path: "data", struct: "ConfigMap", type: "map[string]string" },
    { path: "data.*", struct: "ConfigMap", type: "string" },
    { path: "binaryData.*", struct: "ConfigMap", type: "[]uint8" },
  ],
  Secret: [
    { path: "data.*", struct: "Secret", type: "[]uint8" },
    { path: "stringData.*", struct: "Secret", type: "string" },
  ],
  Deployment: [{ path: "spec.replicas", struct: "DeploymentSpec", type: "int32" }],
  ReplicaSet: [{ path: "spec.replicas", struct: "ReplicaSetSpec", type: "int32" }],
  Job: [
    { path: "spec.parallelism", struct: "JobSpec", type: "int32" },
    { path: "spec.completions", struct: "JobSpec", type: "int32" },
    { path: "spec.backoffLimit", struct: "JobSpec", type: "int32" },
  ],
};

function fits(v: Json, type: Typed["type"]): boolean {
  if (v === null) return true; // null leaves a Go field at its zero value
  switch (type) {
    case "string":
    case "[]uint8":
      return typeof v === "string";
    case "int32":
      return typeof v === "number" && Number.isInteger(v) && v >= -(2 ** 31) && v < 2 ** 31;
    case "map[string]string":
      return typeof v === "object" && !Array.isArray(v);
  }
}

/** Throws the decoder's 400 for a body the scheme cannot decode into the resource's kind. */
export function checkDecodable(def: ResourceDef, body: Json): void {
  if (body === null || typeof body !== "object" || Array.isArray(body)) return;
  const cannot = (reason: string) =>
    badRequest(`${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: ${reason}`);
  const av = body.apiVersion;
  if (typeof av === "string" && av !== "" && av !== def.apiVersion) {
    const version = av.includes("/") ? av.slice(av.indexOf("/") + 1) : av;
    throw badRequest(
      `${body.kind ?? def.kind} in version "${version}" cannot be handled as a ${def.kind}: no kind "${body.kind ?? def.kind}" is registered for version "${av}" in scheme "pkg/api/legacyscheme/scheme.go:30"`,
    );
  }
  for (const t of [...META, ...(BY_KIND[def.kind] ?? [])]) {
    const parts = t.path.split(".");
    const visit = (node: Json, i: number, field: string): void => {
      if (node === null || typeof node !== "object" || Array.isArray(node)) return;
      const key = parts[i]!;
      const last = i === parts.length - 1;
      const entries: [string, Json][] =
        key === "*" ? Object.entries(node) : key in node ? [[key, node[key]]] : [];
      for (const [k, v] of entries) {
        const here = key === "*" ? field : field ? `${field}.${k}` : k;
        if (!last) {
          visit(v, i + 1, here);
          continue;
        }
        if (!fits(v, t.type)) {
          const shown = typeof v === "number" && t.type === "int32" ? `number ${v}` : jsonType(v);
          throw cannot(
            `json: cannot unmarshal ${shown} into Go struct field ${t.struct}.${here} of type ${t.type}`,
          );
        }
      }
    };
    visit(body, 0, "");
  }
}

/**
 * Duplicate keys of a JSON text as dotted field paths (`metadata.name`,
 * `spec.containers[0].image`): JSON.parse keeps the last silently, kube-apiserver's strict
 * decoder reports them. Returns [] for text that is not valid JSON (the parse error wins).
 */
export function duplicateFields(text: string): string[] {
  const out: string[] = [];
  let i = 0;
  const ws = (): void => {
    while (i < text.length && " \t\n\r".includes(text[i]!)) i++;
  };
  const str = (): string => {
    const start = i;
    i++;
    while (i < text.length && text[i] !== '"') i += text[i] === "\\" ? 2 : 1;
    i++;
    return JSON.parse(text.slice(start, i));
  };
  const value = (path: string): void => {
    ws();
    const c = text[i];
    if (c === "{") {
      i++;
      const seen = new Set<string>();
      ws();
      if (text[i] === "}") {
        i++;
        return;
      }
      for (;;) {
        ws();
        const k = str();
        const child = path ? `${path}.${k}` : k;
        if (seen.has(k)) out.push(child);
        seen.add(k);
        ws();
        i++; // ':'
        value(child);
        ws();
        if (text[i++] === "}") return;
      }
    } else if (c === "[") {
      i++;
      ws();
      if (text[i] === "]") {
        i++;
        return;
      }
      for (let n = 0; ; n++) {
        value(`${path}[${n}]`);
        ws();
        if (text[i++] === "]") return;
      }
    } else if (c === '"') str();
    else while (i < text.length && !",}] \t\n\r".includes(text[i]!)) i++;
  };
  try {
    value("");
  } catch {
    return [];
  }
  return out;
}
