import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "./server.js";
import { kubectl, raw, requireKubectl } from "./test-support.js";
import type { Json } from "./types.js";

// Pod spec validation as ValidatePodSpec (pkg/apis/core/validation, v1.32) answers it: 422
// Invalid with the field path and the upstream message, through kubectl (fieldValidation=Strict)
// and through raw HTTP for the Status body.

const hasKubectl = await requireKubectl("the pod validation tests");

let server: ApiServer;

beforeAll(async () => {
  server = await startApiServer({
    controllers: { scheduler: false, endpointSlices: false, nodeLifecycle: false },
  });
});
afterAll(async () => {
  await server?.stop();
});

const pod = (name: string, spec: Json): Json => ({
  apiVersion: "v1",
  kind: "Pod",
  metadata: { name },
  spec,
});
const ctr = (extra: Json = {}): Json => ({ name: "c", image: "busybox:1.36", ...extra });

const createPod = (body: Json) =>
  raw(server, "POST", "/api/v1/namespaces/default/pods", JSON.stringify(body), {
    "Content-Type": "application/json",
  });

/** kubectl create -f - : its stderr line, and whether the object exists afterwards. */
async function kubectlCreate(body: Json): Promise<{ code: number; stderr: string; stored: boolean }> {
  const r = await kubectl(server.kubeconfigPath, ["create", "-f", "-"], JSON.stringify(body));
  const kind = String(body.kind).toLowerCase();
  const get = await kubectl(server.kubeconfigPath, ["get", kind, body.metadata.name, "-o", "name"]);
  return { code: r.code, stderr: r.stderr, stored: get.code === 0 };
}

describe.skipIf(!hasKubectl)("probe and lifecycle ports", () => {
  it("a liveness probe httpGet port above 65535 is 422 at spec.containers[0].livenessProbe.httpGet.port", async () => {
    const r = await kubectlCreate(
      pod("probe-high", { containers: [ctr({ livenessProbe: { httpGet: { path: "/", port: 70000 } } })] }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'The Pod "probe-high" is invalid: spec.containers[0].livenessProbe.httpGet.port: Invalid value: 70000: must be between 1 and 65535, inclusive\n',
    );
    expect(r.stored).toBe(false);
  });

  it("port 0 of a readiness tcpSocket probe and of a preStop hook are refused the same way", async () => {
    const r = await createPod(
      pod("port-zero", {
        containers: [
          ctr({
            readinessProbe: { tcpSocket: { port: 0 } },
            lifecycle: { preStop: { httpGet: { path: "/quit", port: 0 } } },
          }),
        ],
      }),
    );
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({
      kind: "Status",
      status: "Failure",
      reason: "Invalid",
      code: 422,
      message:
        'Pod "port-zero" is invalid: [spec.containers[0].lifecycle.preStop.httpGet.port: Invalid value: 0: must be between 1 and 65535, inclusive, spec.containers[0].readinessProbe.tcpSocket.port: Invalid value: 0: must be between 1 and 65535, inclusive]',
      details: {
        name: "port-zero",
        kind: "Pod",
        causes: [
          {
            reason: "FieldValueInvalid",
            message: "Invalid value: 0: must be between 1 and 65535, inclusive",
            field: "spec.containers[0].lifecycle.preStop.httpGet.port",
          },
          {
            reason: "FieldValueInvalid",
            message: "Invalid value: 0: must be between 1 and 65535, inclusive",
            field: "spec.containers[0].readinessProbe.tcpSocket.port",
          },
        ],
      },
    });
  });

  it("a named probe port must be an IANA_SVC_NAME; a valid one is accepted", async () => {
    const r = await createPod(
      pod("probe-name", { containers: [ctr({ startupProbe: { tcpSocket: { port: "Http_Port" } } })] }),
    );
    expect(r.status).toBe(422);
    expect(r.body.details.causes).toEqual([
      {
        reason: "FieldValueInvalid",
        message:
          'Invalid value: "Http_Port": must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)',
        field: "spec.containers[0].startupProbe.tcpSocket.port",
      },
    ]);
    const ok = await createPod(
      pod("probe-name-ok", {
        containers: [
          ctr({
            ports: [{ name: "http", containerPort: 80 }],
            startupProbe: { tcpSocket: { port: "http" } },
          }),
        ],
      }),
    );
    expect(ok.status).toBe(201);
  });

  it("a probe needs exactly one handler; liveness successThreshold must be 1", async () => {
    const r = await createPod(
      pod("handlers", {
        containers: [
          ctr({
            livenessProbe: { exec: { command: ["true"] }, tcpSocket: { port: 80 }, successThreshold: 2 },
            readinessProbe: { periodSeconds: 5 },
          }),
        ],
      }),
    );
    expect(r.status).toBe(422);
    expect(r.body.details.causes.map((c: Json) => `${c.field}: ${c.message}`)).toEqual([
      "spec.containers[0].livenessProbe.tcpSocket: Forbidden: may not specify more than 1 handler type",
      "spec.containers[0].livenessProbe.successThreshold: Invalid value: 2: must be 1",
      "spec.containers[0].readinessProbe: Required value: must specify a handler type",
    ]);
  });
});

describe.skipIf(!hasKubectl)("container ports", () => {
  it("named container ports that are not IANA_SVC_NAME get every upstream message", async () => {
    const r = await kubectlCreate(
      pod("port-names", {
        containers: [
          ctr({
            ports: [
              { name: "metrics-endpoint-http", containerPort: 9090 },
              { name: "8080", containerPort: 8080 },
              { name: "a--b", containerPort: 8081 },
            ],
          }),
        ],
      }),
    );
    expect(r.code).toBe(1);
    // kubectl lists several causes one per line
    expect(r.stderr).toBe(
      [
        'The Pod "port-names" is invalid: ',
        '* spec.containers[0].ports[0].name: Invalid value: "metrics-endpoint-http": must be no more than 15 characters',
        '* spec.containers[0].ports[1].name: Invalid value: "8080": must contain at least one letter (a-z)',
        '* spec.containers[0].ports[2].name: Invalid value: "a--b": must not contain consecutive hyphens',
        "",
      ].join("\n"),
    );
    expect(r.stored).toBe(false);
  });

  it("duplicate port names and containerPort 0 / 65536 in one container", async () => {
    const r = await createPod(
      pod("port-dups", {
        containers: [
          ctr({
            ports: [
              { name: "http", containerPort: 80 },
              { name: "http", containerPort: 0 },
              { containerPort: 65536, hostPort: 70000 },
            ],
          }),
        ],
      }),
    );
    expect(r.status).toBe(422);
    expect(r.body.details.causes.map((c: Json) => `${c.field}: ${c.message}`)).toEqual([
      'spec.containers[0].ports[1].name: Duplicate value: "http"',
      "spec.containers[0].ports[1].containerPort: Required value",
      "spec.containers[0].ports[2].containerPort: Invalid value: 65536: must be between 1 and 65535, inclusive",
      "spec.containers[0].ports[2].hostPort: Invalid value: 70000: must be between 1 and 65535, inclusive",
    ]);
  });
});

describe.skipIf(!hasKubectl)("volumes and mounts", () => {
  it("a volume with two sources is 422 naming the second source", async () => {
    const r = await kubectlCreate(
      pod("two-sources", {
        containers: [ctr()],
        volumes: [{ name: "cache", emptyDir: {}, secret: { secretName: "x" } }],
      }),
    );
    expect(r.stderr).toBe(
      'The Pod "two-sources" is invalid: spec.volumes[0].secret: Forbidden: may not specify more than 1 volume type\n',
    );
    expect(r.stored).toBe(false);
  });

  it("a volume without a source is an emptyDir (SetDefaults_Volume runs before validation)", async () => {
    const r = await createPod(pod("no-source", { containers: [ctr()], volumes: [{ name: "scratch" }] }));
    expect(r.status).toBe(201);
    expect(r.body.spec.volumes).toEqual([{ name: "scratch", emptyDir: {} }]);
  });

  it("an unknown volume source is a strict decoding error for kubectl, a warning by default", async () => {
    const body = pod("unknown-source", { containers: [ctr()], volumes: [{ name: "v", tmpfs: {} }] });
    const r = await kubectlCreate(body);
    expect(r.stderr).toBe(
      'Error from server (BadRequest): error when creating "STDIN": Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.volumes[0].tmpfs"\n',
    );
    expect(r.stored).toBe(false);
    const warn = await createPod(body);
    expect(warn.status).toBe(201);
    expect(warn.headers.warning).toBe('299 - "unknown field \\"spec.volumes[0].tmpfs\\""');
  });

  it("duplicate volume names, a mount of an unknown volume and a repeated mountPath", async () => {
    const r = await kubectlCreate(
      pod("mounts", {
        containers: [
          ctr({
            volumeMounts: [
              { name: "data", mountPath: "/data" },
              { name: "cache", mountPath: "/data" },
            ],
          }),
        ],
        volumes: [
          { name: "data", emptyDir: {} },
          { name: "data", configMap: { name: "cm" } },
        ],
      }),
    );
    expect(r.stderr).toBe(
      [
        'The Pod "mounts" is invalid: ',
        '* spec.volumes[1].name: Duplicate value: "data"',
        '* spec.containers[0].volumeMounts[1].name: Not found: "cache"',
        '* spec.containers[0].volumeMounts[1].mountPath: Invalid value: "/data": must be unique',
        "",
      ].join("\n"),
    );
    expect(r.stored).toBe(false);
  });
});

describe.skipIf(!hasKubectl)("container names", () => {
  it("a name shared by a container and an init container is a duplicate on the init container", async () => {
    const r = await kubectlCreate(
      pod("dup-names", { containers: [ctr(), ctr({ name: "d" })], initContainers: [ctr({ name: "d" })] }),
    );
    expect(r.stderr).toBe(
      'The Pod "dup-names" is invalid: spec.initContainers[0].name: Duplicate value: "d"\n',
    );
  });

  it("probes on a plain init container are forbidden", async () => {
    const r = await createPod(
      pod("init-probe", {
        containers: [ctr()],
        initContainers: [ctr({ name: "init", readinessProbe: { exec: { command: ["true"] } } })],
      }),
    );
    expect(r.status).toBe(422);
    expect(r.body.message).toBe(
      'Pod "init-probe" is invalid: spec.initContainers[0].readinessProbe: Forbidden: may not be set for init containers without restartPolicy=Always',
    );
  });

  it("pod templates of workloads are validated the same way, with the template's field path", async () => {
    const dep = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "web" },
      spec: {
        selector: { matchLabels: { app: "web" } },
        template: {
          metadata: { labels: { app: "web" } },
          spec: { containers: [ctr({ livenessProbe: { httpGet: { path: "/", port: 65536 } } })] },
        },
      },
    };
    const r = await kubectlCreate(dep);
    expect(r.stderr).toBe(
      'The Deployment "web" is invalid: spec.template.spec.containers[0].livenessProbe.httpGet.port: Invalid value: 65536: must be between 1 and 65535, inclusive\n',
    );
    expect(r.stored).toBe(false);
  });
});
