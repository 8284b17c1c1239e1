import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "./server.js";
import { eventually, kubectl, raw, requireKubectl } from "./test-support.js";
import type { Json } from "./types.js";

const hasKubectl = await requireKubectl("the wire-fidelity tests");

let server: ApiServer;

beforeAll(async () => {
  server = await startApiServer({
    controllers: { scheduler: false, endpointSlices: false, nodeLifecycle: false },
  });
  await raw(
    server,
    "POST",
    "/api/v1/namespaces/default/configmaps",
    JSON.stringify({ metadata: { name: "seen" }, data: { a: "b" } }),
    { "Content-Type": "application/json" },
  );
});
afterAll(async () => {
  await server?.stop();
});

/** Newline-delimited watch events of a finished watch response. */
const events = (text: string): Json[] =>
  text
    .split("\n")
    .filter((l) => l.trim())
    .map((l) => JSON.parse(l));

describe("boolean query parameters (runtime.Convert_Slice_string_To_bool)", () => {
  it("watch=True from a raw HTTP client streams watch events, not a list", async () => {
    const r = await raw(server, "GET", "/api/v1/namespaces/default/configmaps?watch=True&timeoutSeconds=1");
    expect(r.status).toBe(200);
    const evs = events(r.text);
    expect(evs.map((e) => `${e.type} ${e.object.kind}/${e.object.metadata.name}`)).toContain(
      "ADDED ConfigMap/seen",
    );
    expect(r.text).not.toContain("ConfigMapList");
  });

  it("watch=false, watch=FALSE and watch=0 list; watch=1 and watch=TRUE watch", async () => {
    for (const v of ["false", "FALSE", "0"]) {
      const r = await raw(server, "GET", `/api/v1/namespaces/default/configmaps?watch=${v}`);
      expect(r.body.kind, v).toBe("ConfigMapList");
    }
    for (const v of ["1", "TRUE"]) {
      const r = await raw(server, "GET", `/api/v1/namespaces/default/configmaps?watch=${v}&timeoutSeconds=1`);
      expect(events(r.text)[0].type, v).toBe("ADDED");
    }
  });

  it("allowWatchBookmarks=True and sendInitialEvents=True send the initial-events-end bookmark", async () => {
    const r = await raw(
      server,
      "GET",
      "/api/v1/namespaces/default/configmaps?watch=True&allowWatchBookmarks=True&sendInitialEvents=True&resourceVersionMatch=NotOlderThan&timeoutSeconds=1",
    );
    const bookmark = events(r.text).find((e) => e.type === "BOOKMARK");
    expect(bookmark?.object.metadata.annotations).toEqual({ "k8s.io/initial-events-end": "true" });
  });

  it("orphanDependents=True orphans the dependents", async () => {
    const owner = await raw(
      server,
      "POST",
      "/api/v1/namespaces/default/configmaps",
      JSON.stringify({ metadata: { name: "owner" } }),
      { "Content-Type": "application/json" },
    );
    await raw(
      server,
      "POST",
      "/api/v1/namespaces/default/configmaps",
      JSON.stringify({
        metadata: {
          name: "dependent",
          ownerReferences: [
            { apiVersion: "v1", kind: "ConfigMap", name: "owner", uid: owner.body.metadata.uid },
          ],
        },
      }),
      { "Content-Type": "application/json" },
    );
    const del = await raw(
      server,
      "DELETE",
      "/api/v1/namespaces/default/configmaps/owner?orphanDependents=True",
    );
    expect(del.body.metadata.finalizers).toEqual(["orphan"]);
  });

  it.skipIf(!hasKubectl)("kubectl get --raw with watch=True streams events", async () => {
    const r = await kubectl(server.kubeconfigPath, [
      "get",
      "--raw",
      "/api/v1/namespaces/default/configmaps?watch=True&timeoutSeconds=2",
    ]);
    expect(r.stderr).toBe("");
    expect(events(r.stdout).some((e) => e.type === "ADDED" && e.object.metadata.name === "seen")).toBe(true);
  });
});

describe.skipIf(!hasKubectl)("protobuf bodies decode to what JSON gives (issue item 5, in part)", () => {
  it("kubectl create secret/service/pdb: zero values are absent, so defaults apply", async () => {
    const kc = server.kubeconfigPath;
    const run = async (...args: string[]): Promise<string> => {
      const r = await kubectl(kc, args);
      expect(r.stderr, args.join(" ")).toBe("");
      return r.stdout;
    };
    await run("create", "secret", "generic", "s1", "--from-literal=a=b");
    const secret = JSON.parse(await run("get", "secret", "s1", "-o", "json"));
    expect(secret.type).toBe("Opaque");
    expect(secret.metadata.generateName).toBeUndefined();
    await run("create", "service", "clusterip", "svc1", "--tcp=80:8080");
    const svc = JSON.parse(await run("get", "service", "svc1", "-o", "json"));
    expect(svc.spec.sessionAffinity).toBe("None");
    expect(svc.spec.ports).toEqual([{ name: "80-8080", port: 80, protocol: "TCP", targetPort: 8080 }]);
    expect(await run("create", "poddisruptionbudget", "pdb1", "--selector=app=x", "--min-available=1")).toBe(
      "poddisruptionbudget.policy/pdb1 created\n",
    );
    const pdb = JSON.parse(await run("get", "pdb", "pdb1", "-o", "json"));
    expect(pdb.spec).toEqual({ minAvailable: 1, selector: { matchLabels: { app: "x" } } });
  });

  it("kubectl diff right after kubectl create finds no difference (empty maps are not kept)", async () => {
    const manifest = JSON.stringify({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "difftest" },
      data: { a: "b" },
    });
    const kc = server.kubeconfigPath;
    expect((await kubectl(kc, ["create", "-f", "-"], manifest)).stdout).toBe("configmap/difftest created\n");
    const diff = await kubectl(kc, ["diff", "-f", "-"], manifest);
    expect(diff.stdout).toBe("");
    expect(diff.code).toBe(0);
  });
});

describe("the watch cache window (410 Expired)", () => {
  const watchFrom = (s: ApiServer, rv: string | number, path = "/api/v1/namespaces/default/configmaps") =>
    raw(s, "GET", `${path}?watch=1&resourceVersion=${rv}&timeoutSeconds=1`);
  const createCm = async (s: ApiServer, name: string): Promise<number> => {
    const r = await raw(
      s,
      "POST",
      "/api/v1/namespaces/default/configmaps",
      JSON.stringify({ metadata: { name } }),
      { "Content-Type": "application/json" },
    );
    return Number(r.body.metadata.resourceVersion);
  };

  it("starts when the server starts: a watch from resourceVersion 1 is 410 Expired", async () => {
    const r = await watchFrom(server, 1);
    const [ev] = events(r.text);
    expect(ev.type).toBe("ERROR");
    expect(ev.object).toMatchObject({ kind: "Status", status: "Failure", reason: "Expired", code: 410 });
    expect(ev.object.message).toMatch(/^too old resource version: 1 \(\d+\)$/);
  });

  it("holds watchHistoryPerResource events; older resourceVersions are 410 with the window start", async () => {
    const small = await startApiServer({
      watchHistoryPerResource: 3,
      controllers: { scheduler: false, endpointSlices: false, nodeLifecycle: false, namespaces: false },
    });
    try {
      const rvs: number[] = [];
      for (const n of ["c1", "c2", "c3", "c4", "c5"]) rvs.push(await createCm(small, n));
      const [r1, r2, r3] = rvs as [number, number, number];
      const old = events((await watchFrom(small, r1)).text);
      expect(old).toHaveLength(1);
      expect(old[0].object.message).toBe(`too old resource version: ${r1} (${r3 - 1})`);
      const resumed = events((await watchFrom(small, r2)).text);
      expect(resumed.map((e) => `${e.type} ${e.object.metadata.name}`)).toEqual([
        "ADDED c3",
        "ADDED c4",
        "ADDED c5",
      ]);
    } finally {
      await small.stop();
    }
  });

  it("expireWatchHistory ends open watches; resuming them is 410, other resources are untouched", async () => {
    const rv = await createCm(server, "before-expiry");
    const watchesBefore = server.requests.filter(
      (q) => q.verb === "watch" && q.resource === "configmaps",
    ).length;
    const open = watchFrom(server, rv).then(() => "ended");
    const longWatch = raw(
      server,
      "GET",
      `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${rv}&timeoutSeconds=60`,
    );
    await eventually(
      () =>
        server.requests.filter((q) => q.verb === "watch" && q.resource === "configmaps").length >=
        watchesBefore + 2,
      10_000,
      "watches open",
    );
    const floor = server.expireWatchHistory({ resource: "configmaps" });
    expect(floor).toBeGreaterThan(rv);
    await longWatch; // ended by the expiry, long before its 60 s timeout
    await open;
    const again = events((await watchFrom(server, rv)).text);
    expect(again[0].object.message).toBe(`too old resource version: ${rv} (${floor})`);
    const pods = events((await watchFrom(server, rv, "/api/v1/pods")).text);
    expect(pods.filter((e) => e.type === "ERROR")).toEqual([]);
    if (hasKubectl) {
      const r = await kubectl(server.kubeconfigPath, [
        "get",
        "--raw",
        `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${rv}`,
      ]);
      expect(events(r.stdout)[0]).toMatchObject({ type: "ERROR", object: { reason: "Expired", code: 410 } });
    }
  });
});

describe("decoding and validation as strict as kube-apiserver", () => {
  const post = (path: string, body: object | string, query = "") =>
    raw(server, "POST", `${path}${query}`, typeof body === "string" ? body : JSON.stringify(body), {
      "Content-Type": "application/json",
    });
  const CMS = "/api/v1/namespaces/default/configmaps";

  it.skipIf(!hasKubectl)(
    "kubectl (fieldValidation=Strict) gets 400 for a misspelt nested field",
    async () => {
      const pod = {
        apiVersion: "v1",
        kind: "Pod",
        metadata: { name: "typo" },
        spec: { containers: [{ name: "c", image: "busybox:1.36", imagePullPolicyy: "Always" }] },
      };
      const r = await kubectl(server.kubeconfigPath, ["create", "-f", "-"], JSON.stringify(pod));
      expect(r.stderr).toBe(
        'Error from server (BadRequest): error when creating "STDIN": Pod in version "v1" cannot be handled as a Pod: strict decoding error: unknown field "spec.containers[0].imagePullPolicyy"\n',
      );
    },
  );

  it("duplicate fields are a strict decoding error, and a warning by default", async () => {
    const text = '{"metadata":{"name":"dup","name":"dup2"},"data":{"a":"b"}}';
    const strict = await post(CMS, text, "?fieldValidation=Strict");
    expect(strict.status).toBe(400);
    expect(strict.body).toMatchObject({
      reason: "BadRequest",
      message:
        'ConfigMap in version "v1" cannot be handled as a ConfigMap: strict decoding error: duplicate field "metadata.name"',
    });
    const warn = await post(CMS, text);
    expect(warn.status).toBe(201);
    expect(warn.headers.warning).toBe('299 - "duplicate field \\"metadata.name\\""');
  });

  it("values of the wrong type and a foreign apiVersion are 400 from the decoder", async () => {
    const typed = await post(CMS, { metadata: { name: "typed" }, data: { a: 1 } });
    expect(typed.status).toBe(400);
    expect(typed.body.message).toBe(
      'ConfigMap in version "v1" cannot be handled as a ConfigMap: json: cannot unmarshal number into Go struct field ConfigMap.data of type string',
    );
    const labels = await post(CMS, { metadata: { name: "typed", labels: { a: true } } });
    expect(labels.body.message).toContain(
      "json: cannot unmarshal bool into Go struct field ObjectMeta.metadata.labels of type string",
    );
    const foreign = await post(CMS, {
      apiVersion: "apps/v1",
      kind: "ConfigMap",
      metadata: { name: "foreign" },
    });
    expect(foreign.status).toBe(400);
    expect(foreign.body.message).toBe(
      'ConfigMap in version "v1" cannot be handled as a ConfigMap: no kind "ConfigMap" is registered for version "apps/v1" in scheme "pkg/api/legacyscheme/scheme.go:30"',
    );
    expect((await raw(server, "GET", `${CMS}/foreign`)).status).toBe(404);
  });

  it("size limits: annotations over 256 KiB and ConfigMap data over 1 MiB are 422", async () => {
    const big = await post(CMS, { metadata: { name: "big", annotations: { a: "x".repeat(256 * 1024) } } });
    expect(big.status).toBe(422);
    expect(big.body.message).toBe(
      'ConfigMap "big" is invalid: metadata.annotations: Too long: may not be more than 262144 bytes',
    );
    expect(big.body.details.causes).toEqual([
      {
        reason: "FieldValueTooLong",
        message: "Too long: may not be more than 262144 bytes",
        field: "metadata.annotations",
      },
    ]);
    const data = await post(CMS, { metadata: { name: "big2" }, data: { a: "x".repeat(1024 * 1024) } });
    expect(data.status).toBe(422);
    expect(data.body.message).toBe(
      'ConfigMap "big2" is invalid: []: Too long: may not be more than 1048576 bytes',
    );
  });

  it("resourceVersion on create is the storage layer's 500", async () => {
    const r = await post(CMS, { metadata: { name: "withrv", resourceVersion: "12" } });
    expect(r.status).toBe(500);
    expect(r.body).toEqual({
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: "resourceVersion should not be set on objects to be created",
      code: 500,
    });
  });

  it("dryRun=Bogus is 422 and creates nothing", async () => {
    const r = await post(CMS, { metadata: { name: "bogus" } }, "?dryRun=Bogus");
    expect(r.status).toBe(422);
    expect(r.body.message).toBe(
      'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: "Bogus": supported values: "All"',
    );
    expect((await raw(server, "GET", `${CMS}/bogus`)).status).toBe(404);
  });

  it("a JSON patch with an unknown op is 422", async () => {
    const r = await raw(
      server,
      "PATCH",
      `${CMS}/seen`,
      JSON.stringify([{ op: "bogus", path: "/data/a", value: "c" }]),
      {
        "Content-Type": "application/json-patch+json",
      },
    );
    expect(r.status).toBe(422);
    expect(r.body).toMatchObject({
      reason: "Invalid",
      message: "the server rejected our request due to an error in our request",
    });
  });

  it("a 300-character name gets the length message", async () => {
    const name = "a".repeat(300);
    const r = await post(CMS, { metadata: { name } });
    expect(r.status).toBe(422);
    expect(r.body.message).toBe(
      `ConfigMap "${name}" is invalid: metadata.name: Invalid value: "${name}": must be no more than 253 characters`,
    );
  });
});
