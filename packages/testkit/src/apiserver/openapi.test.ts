import { describe, expect, it } from "vitest";
import { openApiV2, openApiV3Doc, openApiV3Index } from "./openapi.js";
import type { Json } from "./types.js";

/** Every "$ref" in a document, with the path it sits at. */
function refsOf(node: Json, at = "#"): Array<[string, string]> {
  if (!node || typeof node !== "object") return [];
  const own: Array<[string, string]> = typeof node.$ref === "string" ? [[at, node.$ref]] : [];
  return own.concat(Object.entries(node).flatMap(([k, v]) => refsOf(v, `${at}/${k}`)));
}

describe("OpenAPI documents", () => {
  it("every v3 document resolves all its references within itself", async () => {
    const index = JSON.parse(await openApiV3Index());
    expect(Object.keys(index.paths)).toContain("apis/rbac.authorization.k8s.io/v1");
    for (const gv of Object.keys(index.paths)) {
      const doc = JSON.parse((await openApiV3Doc(gv))!.body);
      const schemas = doc.components.schemas;
      for (const [at, ref] of refsOf(doc)) {
        expect(ref.startsWith("#/components/schemas/"), `${gv} ${at}`).toBe(true);
        expect(schemas[ref.slice("#/components/schemas/".length)], `${gv} ${at} -> ${ref}`).toBeDefined();
      }
    }
  });

  it("v2 resolves all its references and names types as kube-apiserver does", async () => {
    const v2 = JSON.parse(await openApiV2());
    for (const [at, ref] of refsOf(v2))
      expect(v2.definitions[ref.slice("#/definitions/".length)], `${at} -> ${ref}`).toBeDefined();
    const names = Object.keys(v2.definitions);
    for (const name of [
      "io.k8s.api.rbac.v1.ClusterRole",
      "io.k8s.api.rbac.v1.Subject",
      "io.k8s.api.core.v1.PodTemplateSpec",
      "io.k8s.api.discovery.v1.EndpointPort",
      "io.k8s.api.autoscaling.v1.Scale",
      "io.k8s.apimachinery.pkg.apis.meta.v1.LabelSelector",
      "io.k8s.apimachinery.pkg.api.resource.Quantity",
      "io.k8s.apimachinery.pkg.util.intstr.IntOrString",
      "io.k8s.apimachinery.pkg.runtime.RawExtension",
    ])
      expect(names).toContain(name);
    for (const name of names)
      expect(name).toMatch(/^io\.k8s\.(api\.[a-z]+\.v\d\w*|apimachinery\.pkg\.[a-z0-9.]+)\.[A-Z]\w+$/);
  });

  it("each group/version document is named by its own content hash", async () => {
    const index = JSON.parse(await openApiV3Index());
    const hashes = new Set(
      Object.values(index.paths).map((p: Json) => p.serverRelativeURL.split("hash=")[1]),
    );
    expect(hashes.size).toBe(Object.keys(index.paths).length);
  });
});
