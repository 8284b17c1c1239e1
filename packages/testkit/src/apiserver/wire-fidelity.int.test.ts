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
