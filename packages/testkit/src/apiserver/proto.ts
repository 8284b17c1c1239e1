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
  kind:
    | "string"
    | "int"
    | "bool"
    | "int*"
    | "bool*"
    | "msg"
    | "msgs"
    | "strings"
    | "map"
    | "bytesmap"
    | "quantitymap"
    | "bytes"
    | "time"
    | "intorstring",
  sub?: Schema,
];
/**
 * Field number -> JSON name and kind. Go's protobuf encoder writes every non-pointer field, zero
 * values included, where JSON would omit them (`omitempty`): "string", "int" and "bool" fields
 * with zero values are dropped so a protobuf body decodes to the object JSON gives (and defaulting
 * sees absent fields). Pointer fields ("int*", "bool*") are only sent when set and keep zeros.
 */
type Schema = Record<number, FieldSpec>;

const OBJECT_META: Schema = {
  1: ["name", "string"],
  2: ["generateName", "string"],
  3: ["namespace", "string"],
  5: ["uid", "string"],
  6: ["resourceVersion", "string"],
  11: ["labels", "map"],
  12: ["annotations", "map"],
  13: [
    "ownerReferences",
    "msgs",
    {
      5: ["apiVersion", "string"],
      1: ["kind", "string"],
      3: ["name", "string"],
      4: ["uid", "string"],
      6: ["controller", "bool*"],
      7: ["blockOwnerDeletion", "bool*"],
    },
  ],
  14: ["finalizers", "strings"],
};
const PRECONDITIONS: Schema = { 1: ["uid", "string"], 2: ["resourceVersion", "string"] };
const DELETE_OPTIONS: Schema = {
  1: ["gracePeriodSeconds", "int*"],
  2: ["preconditions", "msg", PRECONDITIONS],
  3: ["orphanDependents", "bool*"],
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
const LABEL_SELECTOR: Schema = {
  1: ["matchLabels", "map"],
  2: [
    "matchExpressions",
    "msgs",
    { 1: ["key", "string"], 2: ["operator", "string"], 3: ["values", "strings"] },
  ],
};
// the container and pod spec fields kubectl's generators (create deployment|job) set
const CONTAINER: Schema = {
  1: ["name", "string"],
  2: ["image", "string"],
  3: ["command", "strings"],
  4: ["args", "strings"],
  5: ["workingDir", "string"],
  6: [
    "ports",
    "msgs",
    {
      1: ["name", "string"],
      2: ["hostPort", "int"],
      3: ["containerPort", "int"],
      4: ["protocol", "string"],
      5: ["hostIP", "string"],
    },
  ],
  7: ["env", "msgs", { 1: ["name", "string"], 2: ["value", "string"] }],
  8: ["resources", "msg", { 1: ["limits", "quantitymap"], 2: ["requests", "quantitymap"] }],
  13: ["terminationMessagePath", "string"],
  14: ["imagePullPolicy", "string"],
  16: ["stdin", "bool"],
  17: ["stdinOnce", "bool"],
  18: ["tty", "bool"],
  20: ["terminationMessagePolicy", "string"],
};
const POD_TEMPLATE: Schema = {
  1: ["metadata", "msg", OBJECT_META],
  2: [
    "spec",
    "msg",
    {
      2: ["containers", "msgs", CONTAINER],
      3: ["restartPolicy", "string"],
      4: ["terminationGracePeriodSeconds", "int*"],
      5: ["activeDeadlineSeconds", "int*"],
      6: ["dnsPolicy", "string"],
      7: ["nodeSelector", "map"],
      8: ["serviceAccountName", "string"],
      10: ["nodeName", "string"],
      11: ["hostNetwork", "bool"],
      16: ["hostname", "string"],
      17: ["subdomain", "string"],
      19: ["schedulerName", "string"],
      20: ["initContainers", "msgs", CONTAINER],
      21: ["automountServiceAccountToken", "bool*"],
      24: ["priorityClassName", "string"],
    },
  ],
};
const EMPTY: Schema = {};
const POLICY_RULE: Schema = {
  1: ["verbs", "strings"],
  2: ["apiGroups", "strings"],
  3: ["resources", "strings"],
  4: ["resourceNames", "strings"],
  5: ["nonResourceURLs", "strings"],
};
const BINDING: Schema = {
  1: ["metadata", "msg", OBJECT_META],
  2: [
    "subjects",
    "msgs",
    { 1: ["kind", "string"], 2: ["apiGroup", "string"], 3: ["name", "string"], 4: ["namespace", "string"] },
  ],
  3: ["roleRef", "msg", { 1: ["apiGroup", "string"], 2: ["kind", "string"], 3: ["name", "string"] }],
};

/** batch/v1 JobSpec (Jobs and the job template of CronJobs). */
const JOB_SPEC: Schema = {
  1: ["parallelism", "int*"],
  2: ["completions", "int*"],
  3: ["activeDeadlineSeconds", "int*"],
  4: ["selector", "msg", LABEL_SELECTOR],
  5: ["manualSelector", "bool*"],
  6: ["template", "msg", POD_TEMPLATE],
  7: ["backoffLimit", "int*"],
  8: ["ttlSecondsAfterFinished", "int*"],
  9: ["completionMode", "string"],
  10: ["suspend", "bool*"],
};

const SCHEMAS: Record<string, Schema> = {
  // kubectl create deployment / job / poddisruptionbudget
  Deployment: {
    1: ["metadata", "msg", OBJECT_META],
    2: [
      "spec",
      "msg",
      {
        1: ["replicas", "int*"],
        2: ["selector", "msg", LABEL_SELECTOR],
        3: ["template", "msg", POD_TEMPLATE],
        4: [
          "strategy",
          "msg",
          {
            1: ["type", "string"],
            2: [
              "rollingUpdate",
              "msg",
              { 1: ["maxUnavailable", "intorstring"], 2: ["maxSurge", "intorstring"] },
            ],
          },
        ],
        5: ["minReadySeconds", "int"],
        6: ["revisionHistoryLimit", "int*"],
        7: ["paused", "bool"],
        9: ["progressDeadlineSeconds", "int*"],
      },
    ],
    3: ["status", "msg", EMPTY],
  },
  Job: {
    1: ["metadata", "msg", OBJECT_META],
    2: ["spec", "msg", JOB_SPEC],
    3: ["status", "msg", EMPTY],
  },
  // kubectl create cronjob
  CronJob: {
    1: ["metadata", "msg", OBJECT_META],
    2: [
      "spec",
      "msg",
      {
        1: ["schedule", "string"],
        8: ["timeZone", "string"],
        2: ["startingDeadlineSeconds", "int*"],
        3: ["concurrencyPolicy", "string"],
        4: ["suspend", "bool*"],
        5: ["jobTemplate", "msg", { 1: ["metadata", "msg", OBJECT_META], 2: ["spec", "msg", JOB_SPEC] }],
        6: ["successfulJobsHistoryLimit", "int*"],
        7: ["failedJobsHistoryLimit", "int*"],
      },
    ],
    3: ["status", "msg", EMPTY],
  },
  // kubectl certificate approve|deny: PUT .../approval with the whole object
  CertificateSigningRequest: {
    1: ["metadata", "msg", OBJECT_META],
    2: [
      "spec",
      "msg",
      {
        1: ["request", "bytes"],
        2: ["username", "string"],
        3: ["uid", "string"],
        4: ["groups", "strings"],
        5: ["usages", "strings"],
        7: ["signerName", "string"],
        8: ["expirationSeconds", "int*"],
      },
    ],
    3: [
      "status",
      "msg",
      {
        1: [
          "conditions",
          "msgs",
          {
            1: ["type", "string"],
            6: ["status", "string"],
            2: ["reason", "string"],
            3: ["message", "string"],
            4: ["lastUpdateTime", "time"],
            5: ["lastTransitionTime", "time"],
          },
        ],
        2: ["certificate", "bytes"],
      },
    ],
  },
  // kubectl create role|clusterrole|rolebinding|clusterrolebinding
  Role: { 1: ["metadata", "msg", OBJECT_META], 2: ["rules", "msgs", POLICY_RULE] },
  ClusterRole: { 1: ["metadata", "msg", OBJECT_META], 2: ["rules", "msgs", POLICY_RULE] },
  RoleBinding: BINDING,
  ClusterRoleBinding: BINDING,
  PodDisruptionBudget: {
    1: ["metadata", "msg", OBJECT_META],
    2: [
      "spec",
      "msg",
      {
        1: ["minAvailable", "intorstring"],
        2: ["selector", "msg", LABEL_SELECTOR],
        3: ["maxUnavailable", "intorstring"],
        4: ["unhealthyPodEvictionPolicy", "string"],
      },
    ],
    3: ["status", "msg", EMPTY],
  },
  SelfSubjectRulesReview: {
    1: ["metadata", "msg", OBJECT_META],
    2: ["spec", "msg", { 1: ["namespace", "string"] }],
  },
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
        4: ["expirationSeconds", "int*"],
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
    4: ["immutable", "bool*"],
  },
  Secret: {
    1: ["metadata", "msg", OBJECT_META],
    2: ["data", "bytesmap"],
    3: ["type", "string"],
    4: ["stringData", "map"],
    5: ["immutable", "bool*"],
  },
  ServiceAccount: {
    1: ["metadata", "msg", OBJECT_META],
    3: ["imagePullSecrets", "msgs", { 1: ["name", "string"] }],
    4: ["automountServiceAccountToken", "bool*"],
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
      case "string": {
        const v = f.bytes?.toString("utf8") ?? "";
        if (v !== "") obj[name] = v;
        break;
      }
      case "int":
      case "int*": {
        const v = Number(BigInt.asIntN(64, f.varint ?? 0n));
        if (v !== 0 || kind === "int*") obj[name] = v;
        break;
      }
      case "bool":
      case "bool*": {
        const v = (f.varint ?? 0n) !== 0n;
        if (v || kind === "bool*") obj[name] = v;
        break;
      }
      case "bytes": {
        // []byte fields are base64 strings in JSON
        if (f.bytes?.length) obj[name] = f.bytes.toString("base64");
        break;
      }
      case "time": {
        // metav1.Time {seconds, nanos}: RFC 3339 with second precision in JSON
        const t = decodeMessage(f.bytes ?? Buffer.alloc(0), { 1: ["seconds", "int"] });
        obj[name] = new Date((t.seconds ?? 0) * 1000).toISOString().replace(".000Z", "Z");
        break;
      }
      case "quantitymap": {
        // map<string, resource.Quantity>; a Quantity is a message holding its string form
        const fields = readFields(f.bytes ?? Buffer.alloc(0));
        const k = fields.find((x) => x.no === 1)?.bytes?.toString("utf8") ?? "";
        const q = decodeMessage(fields.find((x) => x.no === 2)?.bytes ?? Buffer.alloc(0), {
          1: ["s", "string"],
        });
        obj[name] ??= {};
        obj[name][k] = q.s ?? "0";
        break;
      }
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
