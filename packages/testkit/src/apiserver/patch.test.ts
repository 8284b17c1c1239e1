import { describe, expect, it } from "vitest";
import { applyJsonPatch, applyMergePatch, applyStrategicMergePatch, deepEqual } from "./patch.js";

describe("strategic merge patch", () => {
  const pod = {
    metadata: { finalizers: ["a"], labels: { x: "1" } },
    spec: {
      containers: [
        {
          name: "app",
          image: "app:1",
          ports: [{ containerPort: 80, protocol: "TCP" }],
          env: [{ name: "A", value: "1" }],
        },
        { name: "side", image: "side:1" },
      ],
      tolerations: [{ key: "k", operator: "Exists" }],
    },
    status: {
      conditions: [
        { type: "Ready", status: "False" },
        { type: "Initialized", status: "True" },
      ],
    },
  };

  it("merges lists by their patch merge key and replaces lists without one", () => {
    const out = applyStrategicMergePatch(
      pod,
      {
        spec: {
          containers: [{ name: "app", env: [{ name: "B", value: "2" }], ports: [{ containerPort: 443 }] }],
          tolerations: [{ key: "other", operator: "Exists" }],
        },
        status: { conditions: [{ type: "Ready", status: "True" }] },
        metadata: { finalizers: ["b"] },
      },
      "Pod",
    );
    expect(out.spec.containers.map((c: { name: string }) => c.name)).toEqual(["app", "side"]);
    expect(out.spec.containers[0].env.map((e: { name: string }) => e.name)).toEqual(["A", "B"]);
    expect(out.spec.containers[0].ports.map((p: { containerPort: number }) => p.containerPort)).toEqual([
      80, 443,
    ]);
    expect(out.spec.tolerations).toEqual([{ key: "other", operator: "Exists" }]);
    expect(out.status.conditions).toEqual([
      { type: "Ready", status: "True" },
      { type: "Initialized", status: "True" },
    ]);
    expect(out.metadata.finalizers).toEqual(["a", "b"]);
    // the input is not mutated (stored objects are shared)
    expect(pod.spec.containers[0]!.env).toHaveLength(1);
  });

  it("honours $patch directives, null deletion and $deleteFromPrimitiveList", () => {
    const out = applyStrategicMergePatch(
      pod,
      {
        metadata: { labels: { x: null }, "$deleteFromPrimitiveList/finalizers": ["a"] },
        spec: { containers: [{ name: "side", $patch: "delete" }] },
        status: { $patch: "replace", phase: "Running" },
      },
      "Pod",
    );
    expect(out.metadata.labels).toEqual({});
    expect(out.metadata.finalizers).toEqual([]);
    expect(out.spec.containers.map((c: { name: string }) => c.name)).toEqual(["app"]);
    expect(out.status).toEqual({ phase: "Running" });
  });

  it("orders merged items by $setElementOrder", () => {
    const out = applyStrategicMergePatch(
      pod,
      {
        spec: {
          "$setElementOrder/containers": [{ name: "side" }, { name: "app" }],
          containers: [{ name: "side", image: "side:2" }],
        },
      },
      "Pod",
    );
    expect(out.spec.containers.map((c: { name: string; image: string }) => `${c.name}:${c.image}`)).toEqual([
      "side:side:2",
      "app:app:1",
    ]);
  });

  it("merges node addresses and conditions by type", () => {
    const node = {
      status: {
        addresses: [{ type: "InternalIP", address: "10.0.0.1" }],
        conditions: [{ type: "Ready", status: "True" }],
      },
    };
    const out = applyStrategicMergePatch(
      node,
      {
        status: {
          addresses: [{ type: "Hostname", address: "n1" }],
          conditions: [{ type: "Ready", status: "False" }],
        },
      },
      "Node",
    );
    expect(out.status.addresses).toHaveLength(2);
    expect(out.status.conditions).toEqual([{ type: "Ready", status: "False" }]);
  });
});

describe("merge patch and JSON patch", () => {
  it("merge patch replaces lists and deletes with null", () => {
    expect(applyMergePatch({ a: [1, 2], b: { c: 1, d: 2 } }, { a: [3], b: { c: null } })).toEqual({
      a: [3],
      b: { d: 2 },
    });
  });

  it("JSON patch supports add/remove/replace/move/copy/test and escapes", () => {
    const doc = { metadata: { annotations: { "a/b": "1" } }, list: [1, 2, 3] };
    const out = applyJsonPatch(doc, [
      { op: "test", path: "/metadata/annotations/a~1b", value: "1" },
      { op: "add", path: "/list/-", value: 4 },
      { op: "remove", path: "/list/0" },
      { op: "replace", path: "/list/0", value: 20 },
      { op: "copy", from: "/list/0", path: "/copied" },
      { op: "move", from: "/copied", path: "/moved" },
    ]);
    expect(out).toEqual({ metadata: { annotations: { "a/b": "1" } }, list: [20, 3, 4], moved: 20 });
    expect(() => applyJsonPatch(doc, [{ op: "test", path: "/list/0", value: 9 }])).toThrow(/test failed/);
    expect(() => applyJsonPatch(doc, [{ op: "remove", path: "/nope" }])).toThrow(/nonexistent/);
    expect(() => applyJsonPatch(doc, { op: "add" })).toThrow(/jsonpatch.Patch/);
  });

  it("deepEqual ignores key order", () => {
    expect(deepEqual({ a: 1, b: [1, { c: 2, d: 3 }] }, { b: [1, { d: 3, c: 2 }], a: 1 })).toBe(true);
    expect(deepEqual({ a: 1 }, { a: 2 })).toBe(false);
  });
});
