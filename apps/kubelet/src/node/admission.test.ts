import type { Node } from "@kubenode/node-status";
import { describe, expect, it } from "vitest";
import type { Container, Pod } from "../api.js";
import { admitPod, podRequests } from "./admission.js";

function node(
  over: { allocatable?: Record<string, string>; labels?: Record<string, string>; taints?: Node["spec"] } = {},
): Node {
  return {
    metadata: { name: "n1", labels: { "kubernetes.io/hostname": "n1", ...over.labels } },
    spec: over.taints ?? {},
    status: {
      allocatable: { cpu: "2", memory: "4Gi", pods: "3", "ephemeral-storage": "10Gi", ...over.allocatable },
    },
  } as Node;
}

let seq = 0;
function pod(spec: Partial<Pod["spec"]> = {}, meta: Partial<Pod["metadata"]> = {}): Pod {
  seq++;
  return {
    metadata: { name: `p${seq}`, namespace: "default", uid: `uid-${seq}`, ...meta },
    spec: { containers: [{ name: "c", image: "busybox" }], ...spec },
  };
}

function requesting(requests: Record<string, string>, extra: Partial<Container> = {}): Pod["spec"] {
  return { containers: [{ name: "c", image: "busybox", resources: { requests }, ...extra }] };
}

describe("admitPod resources (noderesources.Fits)", () => {
  it.each([
    {
      name: "fits",
      pod: pod(requesting({ cpu: "500m", memory: "1Gi" })),
      active: [pod(requesting({ cpu: "1", memory: "1Gi" }))],
      want: { admit: true },
    },
    {
      name: "too many pods",
      pod: pod(),
      active: [pod(), pod(), pod()],
      want: {
        admit: false,
        reason: "OutOfpods",
        message: "Node didn't have enough resource: pods, requested: 1, used: 3, capacity: 3",
      },
    },
    {
      name: "cpu in millicores",
      pod: pod(requesting({ cpu: "1500m" })),
      active: [pod(requesting({ cpu: "600m" }))],
      want: {
        admit: false,
        reason: "OutOfcpu",
        message: "Node didn't have enough resource: cpu, requested: 1500, used: 600, capacity: 2000",
      },
    },
    {
      name: "memory in bytes",
      pod: pod(requesting({ memory: "3Gi" })),
      active: [pod(requesting({ memory: "1536Mi" }))],
      want: {
        admit: false,
        reason: "OutOfmemory",
        message:
          "Node didn't have enough resource: memory, requested: 3221225472, used: 1610612736, capacity: 4294967296",
      },
    },
    {
      name: "ephemeral-storage",
      pod: pod(requesting({ "ephemeral-storage": "11Gi" })),
      active: [],
      want: { admit: false, reason: "OutOfephemeral-storage" },
    },
    {
      name: "extended resource the node has too few of",
      pod: pod(requesting({ "example.com/gpu": "2" })),
      active: [],
      allocatable: { "example.com/gpu": "1" },
      want: {
        admit: false,
        reason: "OutOfexample.com/gpu",
        message: "Node didn't have enough resource: example.com/gpu, requested: 2, used: 0, capacity: 1",
      },
    },
    {
      name: "extended resource unknown to the node is ignored (cluster-level)",
      pod: pod(requesting({ "example.com/license": "1" })),
      active: [],
      want: { admit: true },
    },
    {
      name: "limits stand in for missing requests",
      pod: pod({ containers: [{ name: "c", resources: { limits: { cpu: "3" } } }] }),
      active: [],
      want: { admit: false, reason: "OutOfcpu" },
    },
    {
      name: "pods count is checked before cpu (first failure wins)",
      pod: pod(requesting({ cpu: "5" })),
      active: [pod(), pod(), pod()],
      want: { admit: false, reason: "OutOfpods" },
    },
  ])("$name", ({ pod: p, active, allocatable, want }) => {
    const result = admitPod(p, node(allocatable ? { allocatable } : {}), active);
    expect(result).toMatchObject(want);
  });

  it("does not count the pod itself among the active pods", () => {
    const p = pod(requesting({ cpu: "2" }));
    expect(admitPod(p, node(), [p])).toEqual({ admit: true });
  });

  it("sums sidecars with regular containers and takes the init-phase peak when larger", () => {
    const p = pod({
      initContainers: [
        { name: "setup", resources: { requests: { cpu: "1500m" } } },
        { name: "sidecar", restartPolicy: "Always", resources: { requests: { cpu: "200m" } } },
      ],
      containers: [{ name: "app", resources: { requests: { cpu: "300m", memory: "1Gi" } } }],
      overhead: { cpu: "10m" },
    });
    const r = podRequests(p);
    // max(1500 (setup alone), 300 + 200) + 10 overhead
    expect(r.get("cpu")).toBe(1510);
    expect(r.get("memory")).toBe(1024 ** 3);
  });
});

describe("admitPod predicates", () => {
  it.each([
    {
      name: "nodeSelector matches",
      pod: pod({ nodeSelector: { disk: "ssd" } }),
      labels: { disk: "ssd" },
      want: { admit: true },
    },
    {
      name: "nodeSelector does not match",
      pod: pod({ nodeSelector: { disk: "ssd" } }),
      labels: { disk: "hdd" },
      want: {
        admit: false,
        reason: "NodeAffinity",
        message: "Predicate NodeAffinity failed: node(s) didn't match Pod's node affinity/selector",
      },
    },
    {
      name: "required affinity: one of two terms matches (OR)",
      pod: pod({
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: "zone", operator: "In", values: ["a"] }] },
                { matchExpressions: [{ key: "gen", operator: "Gt", values: ["3"] }] },
              ],
            },
          },
        },
      }),
      labels: { zone: "b", gen: "5" },
      want: { admit: true },
    },
    {
      name: "required affinity: expressions of a term are ANDed",
      pod: pod({
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                {
                  matchExpressions: [
                    { key: "zone", operator: "In", values: ["a"] },
                    { key: "spot", operator: "DoesNotExist" },
                  ],
                },
              ],
            },
          },
        },
      }),
      labels: { zone: "a", spot: "true" },
      want: { admit: false, reason: "NodeAffinity" },
    },
    {
      name: "required affinity: matchFields on metadata.name",
      pod: pod({
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchFields: [{ key: "metadata.name", operator: "In", values: ["n1"] }] },
              ],
            },
          },
        },
      }),
      want: { admit: true },
    },
    {
      name: "required affinity: NotIn and Lt, malformed Gt matches nothing",
      pod: pod({
        affinity: {
          nodeAffinity: {
            requiredDuringSchedulingIgnoredDuringExecution: {
              nodeSelectorTerms: [
                { matchExpressions: [{ key: "gen", operator: "Gt", values: ["x"] }] },
                {
                  matchExpressions: [
                    { key: "zone", operator: "NotIn", values: ["c"] },
                    { key: "gen", operator: "Lt", values: ["9"] },
                  ],
                },
              ],
            },
          },
        },
      }),
      labels: { zone: "a", gen: "5" },
      want: { admit: true },
    },
    {
      name: "preferred affinity is ignored",
      pod: pod({
        affinity: {
          nodeAffinity: {
            preferredDuringSchedulingIgnoredDuringExecution: [
              {
                weight: 1,
                preference: { matchExpressions: [{ key: "zone", operator: "In", values: ["z"] }] },
              },
            ],
          },
        },
      }),
      want: { admit: true },
    },
    {
      name: "bound to another node",
      pod: pod({ nodeName: "n2" }),
      want: {
        admit: false,
        reason: "NodeName",
        message: "Predicate NodeName failed: node(s) didn't match the requested node name",
      },
    },
    {
      name: "kubernetes.io/os label of another OS",
      pod: pod({}, { labels: { "kubernetes.io/os": "windows" } }),
      want: { admit: false, reason: "PodOSSelectorNodeLabelDoesNotMatch" },
    },
    {
      name: "spec.os of another OS",
      pod: pod({ os: { name: "windows" } }),
      want: {
        admit: false,
        reason: "PodOSNotSupported",
        message: "Failed to admit pod as the OS field doesn't match node OS",
      },
    },
  ])("$name", ({ pod: p, labels, want }) => {
    expect(admitPod(p, node(labels ? { labels } : {}), [])).toMatchObject(want);
  });

  it("refuses a host port already taken on an overlapping IP and protocol", () => {
    const withPort = (hostPort: number, hostIP?: string, protocol?: "TCP" | "UDP") =>
      pod({
        containers: [
          {
            name: "c",
            ports: [
              {
                containerPort: 80,
                hostPort,
                ...(hostIP ? { hostIP } : {}),
                ...(protocol ? { protocol } : {}),
              },
            ],
          },
        ],
      });
    const active = [withPort(8080, "10.0.0.1")];
    expect(admitPod(withPort(8080), node(), active)).toMatchObject({
      admit: false,
      reason: "NodePorts",
      message: "Predicate NodePorts failed: node(s) didn't have free ports for the requested pod ports",
    });
    expect(admitPod(withPort(8080, "10.0.0.2"), node(), active)).toEqual({ admit: true });
    expect(admitPod(withPort(8080, "10.0.0.1", "UDP"), node(), active)).toEqual({ admit: true });
    expect(admitPod(withPort(8081), node(), active)).toEqual({ admit: true });
  });
});

describe("admitPod taints (only NoExecute, as the kubelet)", () => {
  const tainted = node({
    taints: {
      taints: [
        { key: "dedicated", value: "edge", effect: "NoExecute" },
        { key: "gpu", effect: "NoSchedule" },
      ],
    },
  });

  it.each([
    { name: "untolerated NoExecute", tolerations: [], want: { admit: false, reason: "TaintToleration" } },
    {
      name: "tolerated with Equal",
      tolerations: [{ key: "dedicated", operator: "Equal", value: "edge", effect: "NoExecute" }],
      want: { admit: true },
    },
    {
      name: "tolerated with Exists and no effect",
      tolerations: [{ key: "dedicated", operator: "Exists" }],
      want: { admit: true },
    },
    {
      name: "tolerated by the empty-key Exists toleration",
      tolerations: [{ operator: "Exists" }],
      want: { admit: true },
    },
    {
      name: "wrong value does not tolerate",
      tolerations: [{ key: "dedicated", value: "cloud", effect: "NoExecute" }],
      want: {
        admit: false,
        reason: "TaintToleration",
        message: "Predicate TaintToleration failed: node(s) had untolerated taint",
      },
    },
    {
      name: "a NoSchedule toleration does not cover NoExecute",
      tolerations: [{ key: "dedicated", operator: "Exists", effect: "NoSchedule" }],
      want: { admit: false, reason: "TaintToleration" },
    },
  ])("$name", ({ tolerations, want }) => {
    expect(admitPod(pod({ tolerations }), tainted, [])).toMatchObject(want);
  });

  it("admits static pods despite NoExecute taints", () => {
    const staticPod = pod({}, { annotations: { "kubernetes.io/config.source": "file" } });
    expect(admitPod(staticPod, tainted, [])).toEqual({ admit: true });
  });
});
