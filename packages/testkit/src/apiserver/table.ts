import type { ResourceDef } from "./resources.js";
import type { Json, KubeObject } from "./types.js";
import { selectorString } from "./workloads.js";

/** Whether the client asked for a meta.k8s.io Table (kubectl get's human-readable output). */
export function wantsTable(accept: string | undefined): boolean {
  return accept?.includes("as=Table") === true;
}

/** Formats an age like apimachinery's duration.HumanDuration. */
export function humanDuration(ms: number): string {
  const s = Math.max(0, Math.floor(ms / 1000));
  if (s < 120) return `${s}s`;
  const m = Math.floor(s / 60);
  if (m < 10) return `${m}m${s % 60 ? `${s % 60}s` : ""}`;
  if (m < 180) return `${m}m`;
  const h = Math.floor(m / 60);
  if (h < 8) return `${h}h${m % 60 ? `${m % 60}m` : ""}`;
  if (h < 48) return `${h}h`;
  const d = Math.floor(h / 24);
  if (d < 8) return `${d}d${h % 24 ? `${h % 24}h` : ""}`;
  if (d < 365 * 2) return `${d}d`;
  return `${Math.floor(d / 365)}y`;
}

interface Column {
  name: string;
  type: string;
  format?: string;
  priority?: number;
  cell: (o: KubeObject) => unknown;
}

const age = (o: KubeObject): string =>
  o.metadata.creationTimestamp
    ? humanDuration(Date.now() - Date.parse(o.metadata.creationTimestamp))
    : "<unknown>";
const nameCol: Column = { name: "Name", type: "string", format: "name", cell: (o) => o.metadata.name };
const ageCol: Column = { name: "Age", type: "string", cell: age };

function podStatus(p: KubeObject): string {
  if (p.metadata.deletionTimestamp) return "Terminating";
  const st = p.status ?? {};
  let reason: string = st.reason ?? st.phase ?? "Pending";
  for (const c of st.containerStatuses ?? []) {
    if (c.state?.waiting?.reason) reason = c.state.waiting.reason;
    else if (c.state?.terminated?.reason) reason = c.state.terminated.reason;
  }
  if (
    reason === "Pending" &&
    (st.conditions ?? []).some((c: Json) => c.type === "PodScheduled" && c.status === "False")
  )
    return "Pending";
  return reason;
}

/** -o wide columns of the workload kinds: template containers, images and the selector. */
const templateCols: Column[] = [
  {
    name: "Containers",
    type: "string",
    priority: 1,
    cell: (o) => (o.spec?.template?.spec?.containers ?? []).map((c: Json) => c.name).join(","),
  },
  {
    name: "Images",
    type: "string",
    priority: 1,
    cell: (o) => (o.spec?.template?.spec?.containers ?? []).map((c: Json) => c.image).join(","),
  },
  {
    name: "Selector",
    type: "string",
    priority: 1,
    cell: (o) => selectorString(o.spec?.selector) || "<none>",
  },
];

const condTrue = (o: KubeObject, type: string): boolean =>
  (o.status?.conditions ?? []).some((c: Json) => c.type === type && c.status === "True");

/** The CSR CONDITION column: Denied > Approved > Pending, then Failed, then Issued. */
function csrCondition(c: KubeObject): string {
  const parts: string[] = [];
  if (condTrue(c, "Denied")) parts.push("Denied");
  else if (condTrue(c, "Approved")) parts.push("Approved");
  else parts.push("Pending");
  if (condTrue(c, "Failed")) parts.push("Failed");
  if (c.status?.certificate) parts.push("Issued");
  return parts.join(",");
}

/** The Job STATUS column: Complete, Failed, Terminating, Suspended, FailureTarget, else Running. */
function jobStatus(j: KubeObject): string {
  if (condTrue(j, "Complete")) return "Complete";
  if (condTrue(j, "Failed")) return "Failed";
  if (j.metadata.deletionTimestamp) return "Terminating";
  if (condTrue(j, "Suspended")) return "Suspended";
  if (condTrue(j, "FailureTarget")) return "FailureTarget";
  return "Running";
}

function columnsFor(def: ResourceDef): Column[] {
  switch (def.kind) {
    case "Pod":
      return [
        nameCol,
        {
          name: "Ready",
          type: "string",
          cell: (p) =>
            `${(p.status?.containerStatuses ?? []).filter((c: Json) => c.ready).length}/${(p.spec?.containers ?? []).length}`,
        },
        { name: "Status", type: "string", cell: podStatus },
        {
          name: "Restarts",
          type: "string",
          cell: (p) =>
            String(
              (p.status?.containerStatuses ?? []).reduce(
                (a: number, c: Json) => a + (c.restartCount ?? 0),
                0,
              ),
            ),
        },
        ageCol,
        { name: "IP", type: "string", priority: 1, cell: (p) => p.status?.podIP ?? "<none>" },
        { name: "Node", type: "string", priority: 1, cell: (p) => p.spec?.nodeName ?? "<none>" },
      ];
    case "Node":
      return [
        nameCol,
        {
          name: "Status",
          type: "string",
          cell: (n) => {
            const r = (n.status?.conditions ?? []).find((c: Json) => c.type === "Ready");
            let s = r?.status === "True" ? "Ready" : r?.status === "False" ? "NotReady" : "Unknown";
            if (n.spec?.unschedulable) s += ",SchedulingDisabled";
            return s;
          },
        },
        {
          name: "Roles",
          type: "string",
          cell: (n) =>
            Object.keys(n.metadata.labels ?? {})
              .filter((k) => k.startsWith("node-role.kubernetes.io/"))
              .map((k) => k.slice("node-role.kubernetes.io/".length))
              .join(",") || "<none>",
        },
        ageCol,
        { name: "Version", type: "string", cell: (n) => n.status?.nodeInfo?.kubeletVersion ?? "" },
        {
          name: "Internal-IP",
          type: "string",
          priority: 1,
          cell: (n) =>
            (n.status?.addresses ?? []).find((a: Json) => a.type === "InternalIP")?.address ?? "<none>",
        },
      ];
    case "Service":
      return [
        nameCol,
        { name: "Type", type: "string", cell: (s) => s.spec?.type ?? "" },
        { name: "Cluster-IP", type: "string", cell: (s) => s.spec?.clusterIP ?? "<none>" },
        {
          name: "External-IP",
          type: "string",
          cell: (s) => (s.spec?.externalIPs ?? []).join(",") || "<none>",
        },
        {
          name: "Port(s)",
          type: "string",
          cell: (s) =>
            (s.spec?.ports ?? [])
              .map((p: Json) => `${p.port}${p.nodePort ? `:${p.nodePort}` : ""}/${p.protocol ?? "TCP"}`)
              .join(",") || "<none>",
        },
        ageCol,
      ];
    case "Namespace":
      return [nameCol, { name: "Status", type: "string", cell: (n) => n.status?.phase ?? "" }, ageCol];
    case "Lease":
      return [nameCol, { name: "Holder", type: "string", cell: (l) => l.spec?.holderIdentity ?? "" }, ageCol];
    case "EndpointSlice":
      return [
        nameCol,
        { name: "AddressType", type: "string", cell: (s) => s.addressType ?? "" },
        {
          name: "Ports",
          type: "string",
          cell: (s) => (s.ports ?? []).map((p: Json) => p.port).join(",") || "<unset>",
        },
        {
          name: "Endpoints",
          type: "string",
          cell: (s) =>
            (s.endpoints ?? [])
              .flatMap((e: Json) => e.addresses ?? [])
              .slice(0, 3)
              .join(",") || "<unset>",
        },
        ageCol,
      ];
    case "ConfigMap":
      return [
        nameCol,
        {
          name: "Data",
          type: "integer",
          cell: (c) => Object.keys(c.data ?? {}).length + Object.keys(c.binaryData ?? {}).length,
        },
        ageCol,
      ];
    case "Secret":
      return [
        nameCol,
        { name: "Type", type: "string", cell: (s) => s.type ?? "" },
        { name: "Data", type: "integer", cell: (s) => Object.keys(s.data ?? {}).length },
        ageCol,
      ];
    case "Event":
      return [
        {
          name: "Last Seen",
          type: "string",
          cell: (e) =>
            e.lastTimestamp || e.eventTime
              ? humanDuration(Date.now() - Date.parse(e.lastTimestamp ?? e.eventTime))
              : "<unknown>",
        },
        { name: "Type", type: "string", cell: (e) => e.type ?? "" },
        { name: "Reason", type: "string", cell: (e) => e.reason ?? "" },
        {
          name: "Object",
          type: "string",
          cell: (e) => {
            const r = e.involvedObject ?? e.regarding ?? {};
            return `${String(r.kind ?? "").toLowerCase()}/${r.name ?? ""}`;
          },
        },
        { name: "Message", type: "string", cell: (e) => e.message ?? e.note ?? "" },
      ];
    case "Deployment":
      return [
        nameCol,
        {
          name: "Ready",
          type: "string",
          cell: (d) => `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}`,
        },
        { name: "Up-to-date", type: "integer", cell: (d) => d.status?.updatedReplicas ?? 0 },
        { name: "Available", type: "integer", cell: (d) => d.status?.availableReplicas ?? 0 },
        ageCol,
        ...templateCols,
      ];
    case "ReplicaSet":
      return [
        nameCol,
        { name: "Desired", type: "integer", cell: (r) => r.spec?.replicas ?? 0 },
        { name: "Current", type: "integer", cell: (r) => r.status?.replicas ?? 0 },
        { name: "Ready", type: "integer", cell: (r) => r.status?.readyReplicas ?? 0 },
        ageCol,
        ...templateCols,
      ];
    case "StatefulSet":
      return [
        nameCol,
        {
          name: "Ready",
          type: "string",
          cell: (d) => `${d.status?.readyReplicas ?? 0}/${d.spec?.replicas ?? 0}`,
        },
        ageCol,
        ...templateCols.slice(0, 2),
      ];
    case "DaemonSet":
      return [
        nameCol,
        { name: "Desired", type: "integer", cell: (d) => d.status?.desiredNumberScheduled ?? 0 },
        { name: "Current", type: "integer", cell: (d) => d.status?.currentNumberScheduled ?? 0 },
        { name: "Ready", type: "integer", cell: (d) => d.status?.numberReady ?? 0 },
        { name: "Up-to-date", type: "integer", cell: (d) => d.status?.updatedNumberScheduled ?? 0 },
        { name: "Available", type: "integer", cell: (d) => d.status?.numberAvailable ?? 0 },
        {
          name: "Node Selector",
          type: "string",
          cell: (d) =>
            Object.entries(d.spec?.template?.spec?.nodeSelector ?? {})
              .map(([k, v]) => `${k}=${v}`)
              .join(",") || "<none>",
        },
        ageCol,
        ...templateCols,
      ];
    case "CertificateSigningRequest":
      return [
        nameCol,
        ageCol,
        { name: "SignerName", type: "string", cell: (c) => c.spec?.signerName ?? "" },
        { name: "Requestor", type: "string", cell: (c) => c.spec?.username ?? "" },
        {
          name: "RequestedDuration",
          type: "string",
          cell: (c) =>
            c.spec?.expirationSeconds ? humanDuration(c.spec.expirationSeconds * 1000) : "<none>",
        },
        { name: "Condition", type: "string", cell: csrCondition },
      ];
    case "ControllerRevision":
      return [
        nameCol,
        {
          name: "Controller",
          type: "string",
          cell: (r) => {
            const ref = (r.metadata.ownerReferences ?? []).find((o: Json) => o.controller === true);
            if (!ref) return "<none>";
            const group = String(ref.apiVersion ?? "").includes("/")
              ? `.${ref.apiVersion.split("/")[0]}`
              : "";
            return `${String(ref.kind).toLowerCase()}${group}/${ref.name}`;
          },
        },
        { name: "Revision", type: "integer", cell: (r) => r.revision ?? 0 },
        ageCol,
      ];
    case "CronJob": {
      const jobTemplate = (c: KubeObject): Json => c.spec?.jobTemplate?.spec ?? {};
      return [
        nameCol,
        { name: "Schedule", type: "string", cell: (c) => c.spec?.schedule ?? "" },
        { name: "Timezone", type: "string", cell: (c) => c.spec?.timeZone ?? "<none>" },
        {
          name: "Suspend",
          type: "boolean",
          cell: (c) =>
            typeof c.spec?.suspend === "boolean" ? (c.spec.suspend ? "True" : "False") : "<unset>",
        },
        { name: "Active", type: "integer", cell: (c) => (c.status?.active ?? []).length },
        {
          name: "Last Schedule",
          type: "date",
          cell: (c) =>
            c.status?.lastScheduleTime
              ? humanDuration(Date.now() - Date.parse(c.status.lastScheduleTime))
              : "<none>",
        },
        ageCol,
        ...templateCols.map((col) => ({
          ...col,
          cell: (c: KubeObject) => col.cell({ ...c, spec: jobTemplate(c) }),
        })),
      ];
    }
    case "Role":
    case "ClusterRole":
      return [nameCol, { name: "Created At", type: "date", cell: (r) => r.metadata.creationTimestamp }];
    case "RoleBinding":
    case "ClusterRoleBinding":
      return [
        nameCol,
        { name: "Role", type: "string", cell: (b) => `${b.roleRef?.kind ?? ""}/${b.roleRef?.name ?? ""}` },
        ageCol,
        ...(["User", "Group", "ServiceAccount"] as const).map((kind) => ({
          name: kind === "ServiceAccount" ? "ServiceAccounts" : `${kind}s`,
          type: "string",
          priority: 1,
          cell: (b: KubeObject) =>
            (b.subjects ?? [])
              .filter((s: Json) => s.kind === kind)
              .map((s: Json) => (kind === "ServiceAccount" ? `${s.namespace ?? ""}/${s.name}` : s.name))
              .join(", "),
        })),
      ];
    case "Job":
      return [
        nameCol,
        { name: "Status", type: "string", cell: jobStatus },
        {
          name: "Completions",
          type: "string",
          cell: (j) => {
            const done = j.status?.succeeded ?? 0;
            if (j.spec?.completions !== undefined && j.spec.completions !== null)
              return `${done}/${j.spec.completions}`;
            const parallelism = j.spec?.parallelism ?? 0;
            return parallelism > 1 ? `${done}/1 of ${parallelism}` : `${done}/1`;
          },
        },
        {
          name: "Duration",
          type: "string",
          cell: (j) => {
            const start = j.status?.startTime;
            if (!start) return "";
            const end = j.status?.completionTime ? Date.parse(j.status.completionTime) : Date.now();
            return humanDuration(end - Date.parse(start));
          },
        },
        ageCol,
        ...templateCols,
      ];
    default:
      return [nameCol, ageCol];
  }
}

/** Converts objects into a meta.k8s.io/v1 Table (what kube-apiserver's TableConvertor returns). */
export function toTable(def: ResourceDef, objs: readonly KubeObject[], rv: number, accept?: string): Json {
  const cols = columnsFor(def);
  const includeNone = accept?.includes("includeObject=None");
  return {
    kind: "Table",
    apiVersion: "meta.k8s.io/v1",
    metadata: { resourceVersion: String(rv) },
    columnDefinitions: cols.map((c) => ({
      name: c.name,
      type: c.type,
      format: c.format ?? "",
      description: c.name === "Name" ? "Name must be unique within a namespace." : c.name,
      priority: c.priority ?? 0,
    })),
    rows: objs.map((o) => ({
      cells: cols.map((c) => c.cell(o)),
      object: includeNone
        ? undefined
        : { kind: "PartialObjectMetadata", apiVersion: "meta.k8s.io/v1", metadata: o.metadata },
    })),
  };
}
