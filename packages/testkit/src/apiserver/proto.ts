import { badRequest, StatusFailure } from "./status.js";
import type { Json } from "./types.js";

/**
 * A small decoder for the Kubernetes protobuf wire format ("k8s\0" + runtime.Unknown), enough
 * for the request bodies kubectl's typed clients send as protobuf (SelfSubjectAccessReview,
 * SelfSubjectReview, Eviction, TokenRequest, DeleteOptions). Field numbers follow the
 * generated.proto files of k8s.io/api and k8s.io/apimachinery.
 */

type FieldSpec = [
  name: string,
  kind: "string" | "int" | "bool" | "msg" | "msgs" | "strings" | "map" | "bytesmap" | "intorstring",
  sub?: Schema,
];
type Schema = Record<number, FieldSpec>;

const OBJECT_META: Schema = {
  1: ["name", "string"],
  2: ["generateName", "string"],
  3: ["namespace", "string"],
  5: ["uid", "string"],
  6: ["resourceVersion", "string"],
  11: ["labels", "map"],
  12: ["annotations", "map"],
  14: ["finalizers", "strings"],
};
const PRECONDITIONS: Schema = { 1: ["uid", "string"], 2: ["resourceVersion", "string"] };
const DELETE_OPTIONS: Schema = {
  1: ["gracePeriodSeconds", "int"],
  2: ["preconditions", "msg", PRECONDITIONS],
  3: ["orphanDependents", "bool"],
  4: ["propagationPolicy", "string"],
  5: ["dryRun", "strings"],
};
const RESOURCE_ATTRIBUTES: Schema = {
  1: ["namespace", "string"],
  2: ["verb", "string"],
  3: ["group", "string"],
  4: ["version", "string"],
  5: ["resource", "string"],
  6: ["subresource", "string"],
  7: ["name", "string"],
};
const NON_RESOURCE: Schema = { 1: ["path", "string"], 2: ["verb", "string"] };
const SCHEMAS: Record<string, Schema> = {
  SelfSubjectAccessReview: {
    1: ["metadata", "msg", OBJECT_META],
    2: [
      "spec",
      "msg",
      {
        1: ["resourceAttributes", "msg", RESOURCE_ATTRIBUTES],
        2: ["nonResourceAttributes", "msg", NON_RESOURCE],
      },
    ],
  },
  SubjectAccessReview: {
    1: ["metadata", "msg", OBJECT_META],
    2: [
      "spec",
      "msg",
      {
        1: ["resourceAttributes", "msg", RESOURCE_ATTRIBUTES],
        2: ["nonResourceAttributes", "msg", NON_RESOURCE],
        3: ["user", "string"],
        4: ["groups", "strings"],
        6: ["uid", "string"],
      },
    ],
  },
  SelfSubjectReview: { 1: ["metadata", "msg", OBJECT_META] },
  Eviction: { 1: ["metadata", "msg", OBJECT_META], 2: ["deleteOptions", "msg", DELETE_OPTIONS] },
  TokenRequest: {
    1: ["metadata", "msg", OBJECT_META],
    2: [
      "spec",
      "msg",
      {
        1: ["audiences", "strings"],
        3: [
          "boundObjectRef",
          "msg",
          { 1: ["kind", "string"], 2: ["apiVersion", "string"], 3: ["name", "string"], 4: ["uid", "string"] },
        ],
        4: ["expirationSeconds", "int"],
      },
    ],
  },
  TokenReview: {
    1: ["metadata", "msg", OBJECT_META],
    2: ["spec", "msg", { 1: ["token", "string"], 2: ["audiences", "strings"] }],
  },
  DeleteOptions: DELETE_OPTIONS,
  // the kinds `kubectl create namespace|configmap|secret|serviceaccount|service` send
  Namespace: { 1: ["metadata", "msg", OBJECT_META], 2: ["spec", "msg", { 1: ["finalizers", "strings"] }] },
  ConfigMap: {
    1: ["metadata", "msg", OBJECT_META],
    2: ["data", "map"],
    3: ["binaryData", "bytesmap"],
    4: ["immutable", "bool"],
  },
  Secret: {
    1: ["metadata", "msg", OBJECT_META],
    2: ["data", "bytesmap"],
    3: ["type", "string"],
    4: ["stringData", "map"],
    5: ["immutable", "bool"],
  },
  ServiceAccount: {
    1: ["metadata", "msg", OBJECT_META],
    3: ["imagePullSecrets", "msgs", { 1: ["name", "string"] }],
    4: ["automountServiceAccountToken", "bool"],
  },
  Service: {
    1: ["metadata", "msg", OBJECT_META],
    2: [
      "spec",
      "msg",
      {
        1: [
          "ports",
          "msgs",
          {
            1: ["name", "string"],
            2: ["protocol", "string"],
            3: ["port", "int"],
            4: ["targetPort", "intorstring"],
            5: ["nodePort", "int"],
            6: ["appProtocol", "string"],
          },
        ],
        2: ["selector", "map"],
        3: ["clusterIP", "string"],
        4: ["type", "string"],
        5: ["externalIPs", "strings"],
        7: ["sessionAffinity", "string"],
        10: ["externalName", "string"],
        11: ["externalTrafficPolicy", "string"],
        13: ["publishNotReadyAddresses", "bool"],
        18: ["clusterIPs", "strings"],
      },
    ],
  },
};

interface Field {
  no: number;
  wire: number;
  varint?: bigint;
  bytes?: Buffer;
}

function readFields(buf: Buffer): Field[] {
  const out: Field[] = [];
  let i = 0;
  const varint = (): bigint => {
    let result = 0n;
    let shift = 0n;
    for (;;) {
      if (i >= buf.length) throw badRequest("protobuf: truncated varint");
      const b = buf[i++]!;
      result |= BigInt(b & 0x7f) << shift;
      if (!(b & 0x80)) return result;
      shift += 7n;
    }
  };
  while (i < buf.length) {
    const key = Number(varint());
    const no = key >>> 3;
    const wire = key & 7;
    if (wire === 0) out.push({ no, wire, varint: varint() });
    else if (wire === 2) {
      const l = Number(varint());
      if (i + l > buf.length) throw badRequest("protobuf: truncated length-delimited field");
      out.push({ no, wire, bytes: buf.subarray(i, i + l) });
      i += l;
    } else if (wire === 1) i += 8;
    else if (wire === 5) i += 4;
    else throw badRequest(`protobuf: unsupported wire type ${wire}`);
  }
  return out;
}

function decodeMessage(buf: Buffer, schema: Schema): Json {
  const obj: Json = {};
  for (const f of readFields(buf)) {
    const spec = schema[f.no];
    if (!spec) continue;
    const [name, kind, sub] = spec;
    switch (kind) {
      case "string":
        obj[name] = f.bytes?.toString("utf8") ?? "";
        break;
      case "int":
        obj[name] = Number(BigInt.asIntN(64, f.varint ?? 0n));
        break;
      case "bool":
        obj[name] = (f.varint ?? 0n) !== 0n;
        break;
      case "strings":
        obj[name] ??= [];
        obj[name].push(f.bytes?.toString("utf8") ?? "");
        break;
      case "msg":
        obj[name] = decodeMessage(f.bytes ?? Buffer.alloc(0), sub!);
        break;
      case "map": {
        const entry = decodeMessage(f.bytes ?? Buffer.alloc(0), { 1: ["k", "string"], 2: ["v", "string"] });
        obj[name] ??= {};
        obj[name][entry.k ?? ""] = entry.v ?? "";
        break;
      }
      case "bytesmap": {
        // map<string, bytes>: JSON carries the bytes base64-encoded
        const fields = readFields(f.bytes ?? Buffer.alloc(0));
        const k = fields.find((x) => x.no === 1)?.bytes?.toString("utf8") ?? "";
        const v = fields.find((x) => x.no === 2)?.bytes ?? Buffer.alloc(0);
        obj[name] ??= {};
        obj[name][k] = v.toString("base64");
        break;
      }
      case "msgs":
        obj[name] ??= [];
        obj[name].push(decodeMessage(f.bytes ?? Buffer.alloc(0), sub!));
        break;
      case "intorstring": {
        // intstr.IntOrString {type=1 (0 int, 1 string), intVal=2, strVal=3}
        const v = decodeMessage(f.bytes ?? Buffer.alloc(0), {
          1: ["type", "int"],
          2: ["intVal", "int"],
          3: ["strVal", "string"],
        });
        obj[name] = v.type === 1 ? (v.strVal ?? "") : (v.intVal ?? 0);
        break;
      }
    }
  }
  return obj;
}

const MAGIC = Buffer.from([0x6b, 0x38, 0x73, 0x00]);

/** Decodes an `application/vnd.kubernetes.protobuf` body of one of the supported kinds into JSON form. */
export function decodeProtobuf(buf: Buffer, expectKind: string): Json {
  if (buf.length < 4 || !buf.subarray(0, 4).equals(MAGIC))
    throw badRequest("provided protobuf body does not start with the k8s\\0 prefix");
  const unknown = decodeMessage(buf.subarray(4), {
    1: ["typeMeta", "msg", { 1: ["apiVersion", "string"], 2: ["kind", "string"] }],
    2: ["raw", "string"],
  });
  const fields = readFields(buf.subarray(4));
  const raw = fields.find((f) => f.no === 2)?.bytes ?? Buffer.alloc(0);
  const kind: string = unknown.typeMeta?.kind || expectKind;
  const schema = SCHEMAS[kind];
  if (!schema)
    throw new StatusFailure(
      415,
      "UnsupportedMediaType",
      `the simulator cannot decode ${kind} from application/vnd.kubernetes.protobuf; send application/json`,
    );
  const obj = decodeMessage(raw, schema);
  return { kind, apiVersion: unknown.typeMeta?.apiVersion ?? "", ...obj };
}
