import {
  CORE_CLASSES,
  LIST_EXTENSIONS,
  META_CLASSES,
  OPAQUE_FIELDS,
  packageOfGroup,
  QUANTITY_FIELDS,
  SCALAR_CLASSES,
  SCALAR_TYPES,
} from "./openapi-facts.js";
import { loadModel, type Model, type ModelField } from "./openapi-models.js";
import type { Json } from "./types.js";

/**
 * Turns client-node models into OpenAPI schemas under kube-apiserver's definition names
 * (io.k8s.api.core.v1.Pod, io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta, ...), in the shapes
 * kube-apiserver serves: objects with `properties` and `required`, `$ref` between definitions,
 * Time/Quantity/IntOrString as definitions of their own, and the list and patch extensions
 * kubectl apply reads. The same models give the v2 (Swagger) and the v3 documents.
 */

export type OpenApiVersion = "v2" | "v3";

/** A top-level kind: its client-node class and the group/version/kind it is served as. */
export interface RootKind {
  className: string;
  group: string;
  version: string;
  kind: string;
}

/** The client-node models reachable from the roots, and the definition name of each. */
export interface ModelGraph {
  models: ReadonlyMap<string, Model>;
  names: ReadonlyMap<string, string>;
}

const ARRAY = /^Array<(.+)>$/;
const MAP = /^\{ \[key: string\]: (.+); \}$/;
const PRIMITIVE = new Set(["string", "number", "boolean", "Date", "any", "IntOrString"]);
const CLASS_NAME = /^([A-Z][a-z]+)?(V\d+(?:alpha\d+|beta\d+)?)([A-Z]\w*)$/;

/** The model classes a client-node type string names ("Array<V1Container>" -> V1Container). */
function classesIn(type: string): string[] {
  const inner = ARRAY.exec(type)?.[1] ?? MAP.exec(type)?.[1];
  if (inner !== undefined) return classesIn(inner);
  return PRIMITIVE.has(type) || type in SCALAR_CLASSES ? [] : [type];
}

/** The definition name of a model class, given the package of the type that references it. */
function definitionName(className: string, referrerPackage: string): string {
  const m = CLASS_NAME.exec(className);
  if (!m) throw new Error(`unexpected @kubernetes/client-node model name ${className}`);
  const [, prefix, version, kind] = m;
  if (META_CLASSES.has(className) || (!prefix && referrerPackage === "meta"))
    return `io.k8s.apimachinery.pkg.apis.meta.${version!.toLowerCase()}.${kind}`;
  const pkg = prefix ? prefix.toLowerCase() : CORE_CLASSES.has(className) ? "core" : referrerPackage;
  return `io.k8s.api.${pkg}.${version!.toLowerCase()}.${kind}`;
}

/** The OpenAPI definition name kube-apiserver uses for a served kind, e.g. io.k8s.api.core.v1.Pod. */
export function kindDefinitionName(k: { group: string; version: string; kind: string }): string {
  return `io.k8s.api.${packageOfGroup(k.group)}.${k.version}.${k.kind}`;
}

// "io.k8s.api.apps.v1.Deployment" -> apps; "io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta" -> meta
const packageOfDefinition = (name: string): string => name.split(".").at(-3)!;

/**
 * The client-node class of a served kind: "RbacV1Subject"-style when client-node prefixed it, else
 * "V1Pod"-style; undefined when client-node has no such class.
 */
export async function classOfKind(group: string, version: string, kind: string): Promise<string | undefined> {
  const pkg = packageOfGroup(group);
  const v = version[0]!.toUpperCase() + version.slice(1);
  for (const c of [`${pkg[0]!.toUpperCase()}${pkg.slice(1)}${v}${kind}`, `${v}${kind}`])
    if (await loadModel(c)) return c;
  return undefined;
}

/**
 * Loads every model reachable from the roots, breadth first so that a shared type takes the
 * package of the nearest kind that uses it (a few hundred small files for the served kinds).
 */
export async function loadGraph(roots: readonly RootKind[]): Promise<ModelGraph> {
  const models = new Map<string, Model>();
  const names = new Map<string, string>();
  let frontier: string[] = [];
  for (const r of roots)
    if (!names.has(r.className)) {
      names.set(r.className, kindDefinitionName(r));
      frontier.push(r.className);
    }
  while (frontier.length) {
    const loaded = await Promise.all(frontier.map((c) => loadModel(c)));
    const next: string[] = [];
    for (const [i, m] of loaded.entries()) {
      if (!m) throw new Error(`@kubernetes/client-node has no model ${frontier[i]}`);
      models.set(m.className, m);
      const pkg = packageOfDefinition(names.get(m.className)!);
      for (const f of m.fields)
        for (const c of classesIn(f.type))
          if (!names.has(c)) {
            names.set(c, definitionName(c, pkg));
            next.push(c);
          }
    }
    frontier = next;
  }
  return { models, names };
}

/** Builds the definitions reachable from `roots`, keyed by definition name. */
export function buildDefinitions(
  graph: ModelGraph,
  roots: readonly RootKind[],
  version: OpenApiVersion,
): Record<string, Json> {
  const prefix = version === "v3" ? "#/components/schemas/" : "#/definitions/";
  const defs: Record<string, Json> = {};
  const gvks = new Map(roots.map((r) => [r.className, r]));
  const pending: string[] = [];
  const seen = new Set<string>();
  const ref = (name: string): Json => ({ $ref: `${prefix}${name}` });
  const definitionOf = (className: string): string => {
    const name = graph.names.get(className);
    if (name === undefined) throw new Error(`model ${className} was not loaded`);
    return name;
  };
  const refTo = (className: string): Json => {
    const scalarName = SCALAR_CLASSES[className];
    if (scalarName !== undefined) return scalar(scalarName);
    if (!seen.has(className)) {
      seen.add(className);
      pending.push(className);
    }
    return ref(definitionOf(className));
  };
  const scalar = (name: string): Json => {
    defs[name] ??= SCALAR_TYPES[name]!(version);
    return ref(name);
  };

  const classByName = new Map([...graph.names].map(([c, n]) => [n, c]));
  const describe = (ref: string): string | undefined => {
    const name = ref.slice(prefix.length);
    const className = classByName.get(name);
    if (className !== undefined) return graph.models.get(className)?.description;
    return SCALAR_TYPES[name]?.(version).description as string | undefined;
  };

  // the schema of a client-node type string, for field `field` of definition `owner`
  const typeSchema = (type: string, format: string, owner: string, field: string): Json => {
    const items = ARRAY.exec(type)?.[1];
    if (items !== undefined) return { type: "array", items: typeSchema(items, format, owner, field) };
    const values = MAP.exec(type)?.[1];
    if (values !== undefined)
      return { type: "object", additionalProperties: typeSchema(values, format, owner, field) };
    switch (type) {
      case "string":
        if (QUANTITY_FIELDS.has(`${owner}.${field}`))
          return scalar("io.k8s.apimachinery.pkg.api.resource.Quantity");
        return format ? { type: "string", format } : { type: "string" };
      case "number":
        // client-node writes every JSON number "number"; the format tells integers (int32/int64)
        if (format === "int32" || format === "int64") return { type: "integer", format };
        return format ? { type: "number", format } : { type: "number" };
      case "boolean":
        return { type: "boolean" };
      case "Date":
        return scalar(
          `io.k8s.apimachinery.pkg.apis.meta.v1.${format === "date-time-micro" ? "MicroTime" : "Time"}`,
        );
      case "IntOrString":
        return scalar("io.k8s.apimachinery.pkg.util.intstr.IntOrString");
      case "any": {
        const opaque = OPAQUE_FIELDS[`${owner}.${field}`];
        return opaque ? scalar(opaque) : { type: "object" };
      }
      default:
        return refTo(type);
    }
  };

  const fieldSchema = (f: ModelField, owner: string): Json => {
    const schema = typeSchema(f.type, f.format, owner, f.name);
    // client-node drops the description of a field whose type is another definition (or puts the
    // type's own there): the type's description stands in, so kubectl explain has words to show
    const description =
      f.description ?? (typeof schema.$ref === "string" ? describe(schema.$ref) : undefined);
    const extensions = LIST_EXTENSIONS[`${owner}.${f.name}`] ?? {};
    const extra = { ...(description === undefined ? {} : { description }), ...extensions };
    if (typeof schema.$ref === "string") {
      if (!Object.keys(extra).length) return schema;
      // v3 allows no siblings next to $ref, so kube-apiserver wraps the reference in allOf
      return version === "v3" ? { allOf: [schema], ...extra } : { ...schema, ...extra };
    }
    return { ...schema, ...extra };
  };

  const objectSchema = (m: Model): Json => {
    const owner = definitionOf(m.className);
    const properties: Record<string, Json> = {};
    for (const f of m.fields) properties[f.name] = fieldSchema(f, owner);
    const required = m.fields.filter((f) => f.required).map((f) => f.name);
    const gvk = gvks.get(m.className);
    return {
      ...(m.description === undefined ? {} : { description: m.description }),
      type: "object",
      properties,
      ...(required.length ? { required } : {}),
      ...(gvk
        ? { "x-kubernetes-group-version-kind": [{ group: gvk.group, version: gvk.version, kind: gvk.kind }] }
        : {}),
    };
  };

  for (const r of roots) refTo(r.className);
  for (let c = pending.shift(); c !== undefined; c = pending.shift()) {
    const m = graph.models.get(c);
    if (!m) throw new Error(`model ${c} was not loaded`);
    defs[definitionOf(c)] = objectSchema(m);
  }
  return defs;
}
