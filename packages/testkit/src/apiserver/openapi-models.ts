import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import { pathToFileURL } from "node:url";

/**
 * Reads the API models @kubernetes/client-node generates from kube-apiserver's own OpenAPI
 * document, so the simulator's OpenAPI is built from the API's field list and field docs instead
 * of hand-written copies. Each generated class carries a static `attributeTypeMap` (field names,
 * types, formats); its .d.ts carries the field descriptions as JSDoc and marks optional fields `?`.
 */

/** One field of a client-node model, with its type as client-node spells it ("Array<V1Container>"). */
export interface ModelField {
  name: string;
  type: string;
  format: string;
  description: string | undefined;
  required: boolean;
}

/** A client-node model class: its description and fields in declaration order. */
export interface Model {
  className: string;
  description: string | undefined;
  fields: ModelField[];
}

interface Attribute {
  name: string;
  baseName: string;
  type: string;
  format: string;
}

let modelsDir: string | undefined;
function dir(): string {
  const pkg = createRequire(import.meta.url).resolve("@kubernetes/client-node/package.json");
  modelsDir ??= join(dirname(pkg), "dist", "gen", "models");
  return modelsDir;
}

// JSDoc in the generated .d.ts: "/**\n    * text\n    */\n    'field'?: Type;" (class docs the same)
const FIELD_DOC = /\/\*\*\n\s*\* (.*)\n\s*\*\/\n\s*'([^']+)'(\??):/g;
const UNDOCUMENTED_FIELD = /^\s*'([^']+)'(\??):/gm;
const CLASS_DOC = /\/\*\*\n\* (.*)\n\*\/\nexport declare class/;

const unescapeDoc = (s: string): string => s.replace(/\\(["'\\])/g, "$1").trim();

/**
 * The class's attributeTypeMap read from the generated source, which writes it as a JSON array
 * literal: parsing it costs a fraction of compiling and linking a few hundred ES modules.
 */
function attributesOf(className: string, js: string): Attribute[] | undefined {
  const start = js.indexOf(`${className}.attributeTypeMap = [`);
  const end = js.indexOf("\n];", start);
  if (start < 0 || end < 0) return undefined;
  try {
    return JSON.parse(js.slice(js.indexOf("[", start), end + 2)) as Attribute[];
  } catch {
    return undefined;
  }
}

/** The same, from the class itself, should a client-node release format its source differently. */
async function importAttributes(className: string, base: string): Promise<Attribute[] | undefined> {
  const mod = (await import(pathToFileURL(`${base}.js`).href)) as Record<string, unknown>;
  return (mod[className] as { attributeTypeMap?: Attribute[] } | undefined)?.attributeTypeMap;
}

const loaded = new Map<string, Promise<Model | undefined>>();

/** Loads one model class (once), or undefined when client-node has no class of that name. */
export function loadModel(className: string): Promise<Model | undefined> {
  let model = loaded.get(className);
  if (!model) {
    model = readModel(className);
    loaded.set(className, model);
  }
  return model;
}

async function readModel(className: string): Promise<Model | undefined> {
  if (!/^[A-Za-z0-9]+$/.test(className)) return undefined;
  const base = join(dir(), className);
  let dts: string;
  let js: string;
  try {
    // synchronous: a few hundred small files read once per process, faster than via the thread pool
    dts = readFileSync(`${base}.d.ts`, "utf8");
    js = readFileSync(`${base}.js`, "utf8");
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw e;
  }
  const attributes = attributesOf(className, js) ?? (await importAttributes(className, base));
  if (!attributes) return undefined;
  const docs = new Map<string, string>();
  const optional = new Map<string, boolean>();
  for (const m of dts.matchAll(FIELD_DOC)) docs.set(m[2]!, unescapeDoc(m[1]!));
  for (const m of dts.matchAll(UNDOCUMENTED_FIELD)) optional.set(m[1]!, m[2] === "?");
  const classDoc = CLASS_DOC.exec(dts)?.[1];
  return {
    className,
    description: classDoc === undefined ? undefined : unescapeDoc(classDoc),
    fields: attributes.map((a) => ({
      name: a.baseName,
      type: a.type,
      format: a.format,
      description: docs.get(a.name),
      required: optional.get(a.name) === false,
    })),
  };
}
