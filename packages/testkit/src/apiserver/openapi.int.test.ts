import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { RESOURCES } from "./resources.js";
import { type ApiServer, startApiServer } from "./server.js";
import { kubectl, raw, requireKubectl } from "./test-support.js";

// PodSpec's fields in upstream's API reference (k8s.io/api core/v1, release 1.36), written out here
// so the test checks the served schema against the API, not against the models it is built from
const POD_SPEC_FIELDS = [
  "activeDeadlineSeconds",
  "affinity",
  "automountServiceAccountToken",
  "containers",
  "dnsConfig",
  "dnsPolicy",
  "enableServiceLinks",
  "ephemeralContainers",
  "hostAliases",
  "hostIPC",
  "hostNetwork",
  "hostPID",
  "hostUsers",
  "hostname",
  "hostnameOverride",
  "imagePullSecrets",
  "initContainers",
  "nodeName",
  "nodeSelector",
  "os",
  "overhead",
  "preemptionPolicy",
  "priority",
  "priorityClassName",
  "readinessGates",
  "resourceClaims",
  "resources",
  "restartPolicy",
  "runtimeClassName",
  "schedulerName",
  "schedulingGates",
  "schedulingGroup",
  "securityContext",
  "serviceAccount",
  "serviceAccountName",
  "setHostnameAsFQDN",
  "shareProcessNamespace",
  "subdomain",
  "terminationGracePeriodSeconds",
  "tolerations",
  "topologySpreadConstraints",
  "volumes",
];

/** kubectl explain's FIELDS section: name -> { type line, description lines }. */
function explainFields(stdout: string): Map<string, { type: string; description: string }> {
  const fields = new Map<string, { type: string; description: string }>();
  const section = stdout.split("\nFIELDS:\n")[1] ?? "";
  let current: { type: string; description: string } | undefined;
  for (const line of section.split("\n")) {
    const head = /^ {2}(\S+)\t(.*)$/.exec(line);
    if (head) {
      current = { type: head[2]!, description: "" };
      fields.set(head[1]!, current);
    } else if (current && line.startsWith("    ")) current.description += `${line.trim()} `;
  }
  return fields;
}

const DEPLOYMENT = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: merge
spec:
  replicas: 1
  selector:
    matchLabels:
      app: merge
  template:
    metadata:
      labels:
        app: merge
    spec:
      containers:
      - name: web
        image: nginx:1.25
        env:
        - name: A
          value: "1"
        - name: B
          value: "2"
        ports:
        - containerPort: 80
        - containerPort: 443
      - name: sidecar
        image: busybox:1.36
`;

const available = await requireKubectl("the OpenAPI (kubectl explain / apply) tests");

describe.skipIf(!available)("OpenAPI through kubectl", () => {
  let server: ApiServer;
  let kc: string;

  beforeAll(async () => {
    let t = performance.now();
    server = await startApiServer();
    const startMs = performance.now() - t;
    kc = server.kubeconfigPath;
    // the documents are built once per process on the first /openapi request; other test files
    // in this process may have built them already (vitest isolates files by default, so usually not)
    t = performance.now();
    const first = await raw(server, "GET", "/openapi/v3/api/v1");
    const firstMs = performance.now() - t;
    t = performance.now();
    await raw(server, "GET", "/openapi/v3/api/v1");
    const againMs = performance.now() - t;
    expect(first.status).toBe(200);
    console.log(
      `openapi cost: server start ${startMs.toFixed(1)} ms, first GET /openapi/v3/api/v1 ${firstMs.toFixed(1)} ms, repeated ${againMs.toFixed(1)} ms (${first.text.length} bytes)`,
    );
  });
  afterAll(async () => {
    await server?.stop();
  });

  it("explain pod.spec lists every PodSpec field, typed and described", async () => {
    const r = await kubectl(kc, ["explain", "pod.spec"]);
    expect(r.stderr).toBe("");
    const fields = explainFields(r.stdout);
    expect([...fields.keys()].sort()).toEqual(POD_SPEC_FIELDS);
    expect(fields.get("containers")?.type).toBe("<[]Container> -required-");
    expect(fields.get("activeDeadlineSeconds")?.type).toBe("<integer>");
    expect(fields.get("nodeSelector")?.type).toBe("<map[string]string>");
    expect(fields.get("overhead")?.type).toBe("<map[string]Quantity>");
    expect(fields.get("hostNetwork")?.type).toBe("<boolean>");
    expect(fields.get("volumes")?.type).toBe("<[]Volume>");
    for (const [name, f] of fields) expect(f.description, name).not.toMatch(/^<no description>|^$/);
    expect(fields.get("restartPolicy")?.description).toContain("Restart policy for all containers");
  });

  it("explain reaches nested types: resources, IntOrString, Service ports", async () => {
    const res = await kubectl(kc, ["explain", "pod.spec.containers.resources"]);
    expect(res.stderr).toBe("");
    const resFields = explainFields(res.stdout);
    expect([...resFields.keys()]).toEqual(["claims", "limits", "requests"]);
    expect(resFields.get("limits")?.type).toBe("<map[string]Quantity>");
    expect(resFields.get("claims")?.type).toBe("<[]ResourceClaim>");

    const ru = await kubectl(kc, ["explain", "deployment.spec.strategy.rollingUpdate"]);
    expect(ru.stderr).toBe("");
    expect(ru.stdout).toContain("GROUP:      apps");
    const ruFields = explainFields(ru.stdout);
    expect(ruFields.get("maxSurge")?.type).toBe("<IntOrString>");
    expect(ruFields.get("maxUnavailable")?.type).toBe("<IntOrString>");

    const port = await kubectl(kc, ["explain", "service.spec.ports.port"]);
    expect(port.stderr).toBe("");
    expect(port.stdout).toMatch(/FIELD: port <integer>/);
    expect(port.stdout).toContain("The port that will be exposed by this service.");
    const target = await kubectl(kc, ["explain", "service.spec.ports.targetPort"]);
    expect(target.stdout).toMatch(/FIELD: targetPort <IntOrString>/);
    const created = await kubectl(kc, ["explain", "pod.metadata.creationTimestamp"]);
    expect(created.stdout).toMatch(/FIELD: creationTimestamp <string>/);
  });

  it("explain covers a kind of every served group", async () => {
    for (const [path, field, type, apiVersion] of [
      ["deployment.spec", "template", "<PodTemplateSpec> -required-"],
      ["statefulset.spec", "volumeClaimTemplates", "<[]PersistentVolumeClaim>"],
      ["cronjob.spec", "jobTemplate", "<JobTemplateSpec> -required-"],
      ["job.spec", "podFailurePolicy", "<PodFailurePolicy>"],
      ["csr.spec", "request", "<string> -required-"],
      ["clusterrole", "aggregationRule", "<AggregationRule>"],
      ["rolebinding", "roleRef", "<RoleRef> -required-"],
      ["lease.spec", "renewTime", "<string>"],
      ["endpointslice", "addressType", "<string> -required-"],
      ["events", "eventTime", "<string> -required-", "events.k8s.io/v1"],
      ["pdb.spec", "maxUnavailable", "<IntOrString>"],
      ["tokenreview.spec", "audiences", "<[]string>"],
      ["subjectaccessreview.spec", "resourceAttributes", "<ResourceAttributes>"],
      ["node.status", "capacity", "<map[string]Quantity>"],
      ["configmap", "binaryData", "<map[string]string>"],
    ] as const) {
      const args = ["explain", path, ...(apiVersion ? [`--api-version=${apiVersion}`] : [])];
      const r = await kubectl(kc, args);
      expect(r.stderr, path).toBe("");
      expect(explainFields(r.stdout).get(field)?.type, `${path}.${field}`).toBe(type);
    }
  });

  it("explain --recursive walks the whole Pod; an unknown field fails as kubectl reports it", async () => {
    const rec = await kubectl(kc, ["explain", "pod", "--recursive"]);
    expect(rec.code).toBe(0);
    expect(rec.stderr).toBe("");
    for (const f of ["ephemeralContainers", "seccompProfile", "matchLabelKeys", "allocatedResources"])
      expect(rec.stdout).toContain(f);
    const bogus = await kubectl(kc, ["explain", "pod.spec.bogus"]);
    expect(bogus.code).not.toBe(0);
    expect(bogus.stderr).toContain('field "bogus" does not exist');
  });

  it("explain -o plaintext-openapiv2 reads the same schemas from the protobuf /openapi/v2", async () => {
    const r = await kubectl(kc, ["explain", "pod.spec.containers.resources", "-o", "plaintext-openapiv2"]);
    expect(r.stderr).toBe("");
    // v2 has no oneOf: Quantity is a string there, as kubectl shows it against a real cluster
    expect(r.stdout).toMatch(/limits\t<map\[string\]string>/);
    expect(r.stdout).toMatch(/claims\t<\[\]Object>/);
    const job = await kubectl(kc, ["explain", "cronjob.spec.jobTemplate.spec", "-o", "plaintext-openapiv2"]);
    expect(job.stderr).toBe("");
    expect(job.stdout).toMatch(/template\t<Object> -required-/);
    const bogus = await kubectl(kc, ["explain", "pod.spec.bogus", "-o", "plaintext-openapiv2"]);
    expect(bogus.code).not.toBe(0);
    expect(bogus.stderr).toContain('field "bogus" does not exist');
  });

  // kubectl 1.32 computes apply's three-way strategic merge patch from the v3 document when the
  // kind's PATCH operation accepts strategic-merge-patch+json, by the patch keys of its schema
  // (without them it would replace the lists, dropping C and 9090 below)
  it("apply merges lists by their keys: env by name, ports by containerPort", async () => {
    const first = await kubectl(kc, ["apply", "-f", "-"], DEPLOYMENT);
    expect(first.stderr).toBe("");
    expect(first.stdout).toBe("deployment.apps/merge created\n");
    // changes made by someone else, which a real cluster's three-way merge keeps
    const setEnv = await kubectl(kc, ["set", "env", "deployment/merge", "-c", "web", "C=3"]);
    expect(setEnv.stderr).toBe("");
    const addPort = await kubectl(kc, [
      "patch",
      "deployment",
      "merge",
      "-p",
      '{"spec":{"template":{"spec":{"containers":[{"name":"web","ports":[{"containerPort":9090}]}]}}}}',
    ]);
    expect(addPort.stderr).toBe("");
    const changed = DEPLOYMENT.replace('        - name: B\n          value: "2"\n', "").replace(
      "containerPort: 443",
      "containerPort: 8443",
    );
    const second = await kubectl(kc, ["apply", "-f", "-"], changed);
    expect(second.stderr).toBe("");
    expect(second.stdout).toBe("deployment.apps/merge configured\n");
    const got = parseYaml((await kubectl(kc, ["get", "deployment", "merge", "-o", "yaml"])).stdout);
    const [web, sidecar] = got.spec.template.spec.containers;
    expect(web.name).toBe("web");
    expect(sidecar).toMatchObject({ name: "sidecar", image: "busybox:1.36" });
    const env = Object.fromEntries(web.env.map((e: { name: string; value: string }) => [e.name, e.value]));
    expect(env).toEqual({ A: "1", C: "3" });
    const ports = web.ports.map((p: { containerPort: number }) => p.containerPort);
    expect(ports.sort((a: number, b: number) => a - b)).toEqual([80, 8443, 9090]);
  });

  it("v2 and v3 are one source: the same kinds and fields, and the patch keys kubectl reads", async () => {
    const v2 = (await raw(server, "GET", "/openapi/v2")).body;
    const index = (await raw(server, "GET", "/openapi/v3")).body;
    for (const r of RESOURCES) {
      const gv = r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`;
      const url: string = index.paths[gv].serverRelativeURL;
      const v3 = (await raw(server, "GET", url)).body;
      const pkg = r.group ? r.group.split(".")[0] : "core";
      const name = `io.k8s.api.${pkg}.${r.version}.${r.kind}`;
      const s3 = v3.components.schemas[name];
      const s2 = v2.definitions[name];
      expect(s3?.["x-kubernetes-group-version-kind"], name).toEqual([
        { group: r.group, version: r.version, kind: r.kind },
      ]);
      expect(s2["x-kubernetes-group-version-kind"]).toEqual(s3["x-kubernetes-group-version-kind"]);
      expect(Object.keys(s2.properties).sort(), name).toEqual(Object.keys(s3.properties).sort());
      expect(s3.properties.metadata?.$ref ?? s3.properties.metadata?.allOf?.[0]?.$ref, name).toBe(
        "#/components/schemas/io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta",
      );
    }
    const apps = (await raw(server, "GET", index.paths["apis/apps/v1"].serverRelativeURL)).body;
    const patch = apps.paths["/apis/apps/v1/namespaces/{namespace}/deployments/{name}"].patch;
    expect(Object.keys(patch.requestBody.content)).toContain("application/strategic-merge-patch+json");
    expect(patch["x-kubernetes-group-version-kind"]).toEqual({
      group: "apps",
      version: "v1",
      kind: "Deployment",
    });
    const podSpec = v2.definitions["io.k8s.api.core.v1.PodSpec"];
    expect(podSpec.properties.containers).toMatchObject({
      "x-kubernetes-patch-merge-key": "name",
      "x-kubernetes-patch-strategy": "merge",
      "x-kubernetes-list-type": "map",
      "x-kubernetes-list-map-keys": ["name"],
    });
    expect(podSpec.properties.volumes["x-kubernetes-patch-strategy"]).toBe("merge,retainKeys");
    const container = v2.definitions["io.k8s.api.core.v1.Container"].properties;
    expect(container.ports["x-kubernetes-list-map-keys"]).toEqual(["containerPort", "protocol"]);
    expect(container.volumeMounts["x-kubernetes-patch-merge-key"]).toBe("mountPath");
    expect(v2.definitions["io.k8s.apimachinery.pkg.util.intstr.IntOrString"]).toMatchObject({
      type: "string",
      format: "int-or-string",
    });
  });

  it("serves a v3 document by its hash: ETag, immutable caching, 304 and 301", async () => {
    const index = (await raw(server, "GET", "/openapi/v3")).body;
    const url: string = index.paths["apis/apps/v1"].serverRelativeURL;
    const hash = url.split("hash=")[1]!;
    expect(hash).toMatch(/^[0-9A-F]{128}$/);
    const doc = await raw(server, "GET", url);
    expect(doc.status).toBe(200);
    expect(doc.headers.etag).toBe(`"${hash}"`);
    expect(doc.headers["cache-control"]).toBe("public, immutable");
    const unchanged = await raw(server, "GET", url, undefined, { "If-None-Match": `"${hash}"` });
    expect(unchanged.status).toBe(304);
    const stale = await raw(server, "GET", "/openapi/v3/apis/apps/v1?hash=0123");
    expect(stale.status).toBe(301);
    expect(stale.headers.location).toBe(url);
    const missing = await raw(server, "GET", "/openapi/v3/apis/nope/v1");
    expect(missing.status).toBe(404);
  });
});
