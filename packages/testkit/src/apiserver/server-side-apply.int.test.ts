import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { findResource } from "./resources.js";
import { type ApiServer, startApiServer } from "./server.js";
import { kubectl, raw, requireKubectl } from "./test-support.js";
import type { Json } from "./types.js";

// Server-side apply through `kubectl apply --server-side`: managedFields, pruning of fields a
// manager stops applying, and 409 conflicts between managers unless --force-conflicts.

const hasKubectl = await requireKubectl("the server-side apply tests");

let server: ApiServer;

beforeAll(async () => {
  server = await startApiServer({
    controllers: { scheduler: false, endpointSlices: false, nodeLifecycle: false, deployments: false },
  });
});
afterAll(async () => {
  await server?.stop();
});

const apply = (manifest: Json, ...flags: string[]) =>
  kubectl(server.kubeconfigPath, ["apply", "--server-side", ...flags, "-f", "-"], JSON.stringify(manifest));
const configMap = (data: Record<string, string>, labels?: Record<string, string>): Json => ({
  apiVersion: "v1",
  kind: "ConfigMap",
  metadata: { name: "settings", ...(labels ? { labels } : {}) },
  data,
});
const live = (plural: string, group = "", version = "v1", name = "settings"): Json =>
  server.core.find(findResource(group, version, plural)!, "default", name)!;
const managers = (o: Json): Json[] =>
  (o.metadata.managedFields ?? []).map((e: Json) => ({
    manager: e.manager,
    operation: e.operation,
    apiVersion: e.apiVersion,
    fieldsV1: e.fieldsV1,
  }));

describe.skipIf(!hasKubectl)("kubectl apply --server-side", () => {
  it("creates the object with an Apply entry for the manager", async () => {
    const r = await apply(configMap({ a: "1", b: "2" }, { app: "web" }));
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("configmap/settings serverside-applied\n");
    const cm = live("configmaps");
    expect(cm.data).toEqual({ a: "1", b: "2" });
    expect(managers(cm)).toEqual([
      {
        manager: "kubectl",
        operation: "Apply",
        apiVersion: "v1",
        fieldsV1: { "f:data": { "f:a": {}, "f:b": {} }, "f:metadata": { "f:labels": { "f:app": {} } } },
      },
    ]);
    expect(cm.metadata.managedFields[0].time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  });

  it("a field the manager stops applying is removed; others' edits of other fields stay", async () => {
    // a plain update by someone else keeps the managed fields of the applier
    await kubectl(server.kubeconfigPath, ["label", "configmap", "settings", "team=infra"]);
    const r = await apply(configMap({ a: "1" }, { app: "web" }));
    expect(r.stdout).toBe("configmap/settings serverside-applied\n");
    const cm = live("configmaps");
    expect(cm.data).toEqual({ a: "1" });
    expect(cm.metadata.labels).toEqual({ app: "web", team: "infra" });
    expect(managers(cm)[0].fieldsV1).toEqual({
      "f:data": { "f:a": {} },
      "f:metadata": { "f:labels": { "f:app": {} } },
    });
  });

  it("another manager changing an owned field is a 409 naming the owner; an equal value is shared", async () => {
    const conflict = await apply(configMap({ a: "2" }), "--field-manager=tuner");
    expect(conflict.code).toBe(1);
    expect(conflict.stderr.split("\n")[0]).toBe(
      'error: Apply failed with 1 conflict: conflict with "kubectl": .data.a',
    );
    expect(live("configmaps").data).toEqual({ a: "1" });
    // the Status body kube-apiserver sends (what clients other than kubectl see)
    const body = await raw(
      server,
      "PATCH",
      "/api/v1/namespaces/default/configmaps/settings?fieldManager=tuner",
      JSON.stringify(configMap({ a: "2", c: "3" })),
      { "Content-Type": "application/apply-patch+yaml" },
    );
    expect(body.status).toBe(409);
    expect(body.body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: 'Apply failed with 1 conflict: conflict with "kubectl": .data.a',
      reason: "Conflict",
      details: {
        causes: [{ reason: "FieldManagerConflict", message: 'conflict with "kubectl"', field: ".data.a" }],
      },
      code: 409,
    });
    // applying the same value is no conflict: both managers own it
    const shared = await apply(configMap({ a: "1", c: "3" }), "--field-manager=tuner");
    expect(shared.stderr).toBe("");
    expect(managers(live("configmaps")).map((m) => [m.manager, m.fieldsV1])).toEqual([
      ["kubectl", { "f:data": { "f:a": {} }, "f:metadata": { "f:labels": { "f:app": {} } } }],
      ["tuner", { "f:data": { "f:a": {}, "f:c": {} } }],
    ]);
  });

  it("--force-conflicts takes the field over", async () => {
    const r = await apply(configMap({ a: "9", c: "3" }), "--field-manager=tuner", "--force-conflicts");
    expect(r.stderr).toBe("");
    const cm = live("configmaps");
    expect(cm.data).toEqual({ a: "9", c: "3" });
    expect(managers(cm).map((m) => [m.manager, m.fieldsV1])).toEqual([
      ["kubectl", { "f:metadata": { "f:labels": { "f:app": {} } } }],
      ["tuner", { "f:data": { "f:a": {}, "f:c": {} } }],
    ]);
  });

  it("containers are merged by name: a conflict names the container's field", async () => {
    const deployment = (image: string, replicas?: number): Json => ({
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: {
        ...(replicas !== undefined ? { replicas } : {}),
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: { containers: [{ name: "web", image, ports: [{ containerPort: 80 }] }] },
        },
      },
    });
    expect((await apply(deployment("nginx:1.27", 2))).stdout).toBe(
      "deployment.apps/web serverside-applied\n",
    );
    const d = live("deployments", "apps", "v1", "web");
    expect(managers(d)[0].fieldsV1["f:spec"]["f:template"]["f:spec"]).toEqual({
      "f:containers": {
        'k:{"name":"web"}': {
          ".": {},
          "f:image": {},
          "f:name": {},
          "f:ports": { 'k:{"containerPort":80,"protocol":"TCP"}': { ".": {}, "f:containerPort": {} } },
        },
      },
    });
    const r = await apply(deployment("nginx:1.28"), "--field-manager=ci");
    expect(r.stderr.split("\n")[0]).toBe(
      'error: Apply failed with 1 conflict: conflict with "kubectl": .spec.template.spec.containers[name="web"].image',
    );
    // replicas is not in ci's configuration: kubectl's value stays
    expect((await apply(deployment("nginx:1.28"), "--field-manager=ci", "--force-conflicts")).stderr).toBe(
      "",
    );
    const after = live("deployments", "apps", "v1", "web");
    expect([after.spec.replicas, after.spec.template.spec.containers[0].image]).toEqual([2, "nginx:1.28"]);
  });

  it("fieldManager is required for an apply patch", async () => {
    const r = await raw(
      server,
      "PATCH",
      "/api/v1/namespaces/default/configmaps/settings",
      JSON.stringify(configMap({ a: "1" })),
      { "Content-Type": "application/apply-patch+yaml" },
    );
    expect(r.status).toBe(422);
    expect(r.body.message).toBe(
      'PatchOptions.meta.k8s.io "" is invalid: fieldManager: Required value: is required for apply patch',
    );
  });
});
