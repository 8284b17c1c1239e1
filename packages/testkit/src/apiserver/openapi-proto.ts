import type { Json } from "./types.js";

/**
 * Encodes a Swagger 2.0 document as the protobuf kube-apiserver serves at /openapi/v2 for
 * `Accept: application/com.github.proto-openapi.spec.v2@v1.0+protobuf` (gnostic's
 * openapi_v2.Document). Only what the simulator's v2 document holds is encoded: swagger, info and
 * the definitions, each schema's $ref, format, description, required, additionalProperties, type,
 * items, allOf, properties and vendor extensions (x-kubernetes-*). As gnostic does, an extension's
 * value travels as YAML text (JSON is YAML, so its JSON form is written).
 */

// field numbers of gnostic's openapi_v2 messages (google/gnostic openapiv2/OpenAPIv2.proto)
const DOCUMENT = { swagger: 1, info: 2, definitions: 9 } as const;
const INFO = { title: 1, version: 2 } as const;
const SCHEMA = {
  ref: 1,
  format: 2,
  description: 4,
  required: 19,
  additionalProperties: 21,
  type: 22,
  items: 23,
  allOf: 24,
  properties: 25,
  vendorExtension: 31,
} as const;
// Definitions, Properties: repeated NamedSchema = 1; NamedSchema / NamedAny: name = 1, value = 2;
// AdditionalPropertiesItem: schema = 1; TypeItem: repeated string value = 1;
// ItemsItem: repeated Schema schema = 1; Any: string yaml = 2
const ENTRIES = 1;
const NAME = 1;
const VALUE = 2;
const ANY_YAML = 2;

function varint(n: number): Buffer {
  const bytes: number[] = [];
  let v = n;
  while (v > 0x7f) {
    bytes.push((v & 0x7f) | 0x80);
    v = Math.floor(v / 128);
  }
  bytes.push(v);
  return Buffer.from(bytes);
}

/** A length-delimited field (wire type 2): strings and embedded messages. */
function field(n: number, payload: Buffer | string): Buffer {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  return Buffer.concat([varint((n << 3) | 2), varint(body.length), body]);
}

const named = (name: string, value: Buffer): Buffer =>
  Buffer.concat([field(NAME, name), field(VALUE, value)]);

function schema(s: Json): Buffer {
  const parts: Buffer[] = [];
  if (typeof s.$ref === "string") parts.push(field(SCHEMA.ref, s.$ref));
  if (typeof s.format === "string") parts.push(field(SCHEMA.format, s.format));
  if (typeof s.description === "string") parts.push(field(SCHEMA.description, s.description));
  for (const r of (s.required as string[] | undefined) ?? []) parts.push(field(SCHEMA.required, r));
  if (s.additionalProperties && typeof s.additionalProperties === "object")
    parts.push(field(SCHEMA.additionalProperties, field(1, schema(s.additionalProperties))));
  if (typeof s.type === "string") parts.push(field(SCHEMA.type, field(1, s.type)));
  if (s.items) parts.push(field(SCHEMA.items, field(1, schema(s.items))));
  for (const a of (s.allOf as Json[] | undefined) ?? []) parts.push(field(SCHEMA.allOf, schema(a)));
  if (s.properties) {
    const props = Object.entries(s.properties as Record<string, Json>).map(([k, v]) =>
      field(ENTRIES, named(k, schema(v))),
    );
    parts.push(field(SCHEMA.properties, Buffer.concat(props)));
  }
  for (const [k, v] of Object.entries(s as Record<string, Json>))
    if (k.startsWith("x-"))
      parts.push(field(SCHEMA.vendorExtension, named(k, field(ANY_YAML, `${JSON.stringify(v)}\n`))));
  return Buffer.concat(parts);
}

/** The protobuf form of a Swagger 2.0 document (swagger, info and definitions). */
export function encodeSwagger(doc: Json): Buffer {
  const info = Buffer.concat([field(INFO.title, doc.info.title), field(INFO.version, doc.info.version)]);
  const definitions = Object.entries(doc.definitions as Record<string, Json>).map(([name, s]) =>
    field(ENTRIES, named(name, schema(s))),
  );
  return Buffer.concat([
    field(DOCUMENT.swagger, doc.swagger),
    field(DOCUMENT.info, info),
    field(DOCUMENT.definitions, Buffer.concat(definitions)),
  ]);
}
