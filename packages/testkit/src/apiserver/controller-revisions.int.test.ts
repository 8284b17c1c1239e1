import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "./server.js";
import { eventually, kubectl, requireKubectl, startTestAgent, type TestAgent } from "./test-support.js";
import type { Json } from "./types.js";

// ControllerRevisions of DaemonSets and StatefulSets as their controllers keep them, so that
// `kubectl rollout history` and `kubectl rollout undo` work for them as on a real cluster.

const hasKubectl = await requireKubectl("the ControllerRevision tests");

let server: ApiServer;
let agent: TestAgent;

beforeAll(async () => {
  server = await startApiServer({ controllers: { nodeLifecycle: false }, controllerSyncIntervalMs: 200 });
  agent = await startTestAgent(server, "node-a");
});
afterAll(async () => {
  await agent?.stop();
  await server?.stop();
});

const k = async (...args: string[]): Promise<string> => {
  const r = await kubectl(server.kubeconfigPath, args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
};
const getJson = async (...args: string[]): Promise<Json> => JSON.parse(await k("get", ...args, "-o", "json"));
const revisions = async (selector: string): Promise<string[]> =>
  (await getJson("controllerrevisions", "-l", selector)).items
    .map((r: Json) => `${r.revision} ${r.data.spec.template.spec.containers[0].image}`)
    .sort();
const workload = (kind: "DaemonSet" | "StatefulSet", name: string): string =>
  JSON.stringify({
    apiVersion: "apps/v1",
    kind,
    metadata: { name, annotations: { "kubernetes.io/change-cause": "first" } },
    spec: {
      selector: { matchLabels: { app: name } },
      ...(kind === "StatefulSet" ? { serviceName: name, replicas: 1 } : {}),
      template: {
        metadata: { labels: { app: name } },
        spec: { containers: [{ name: "c", image: "busybox:1.36" }] },
      },
    },
  });

describe.skipIf(!hasKubectl)("DaemonSet revisions", () => {
  it("creates <name>-<hash> revisions owned by the DaemonSet with the pods' hash", async () => {
    expect(
      (await kubectl(server.kubeconfigPath, ["create", "-f", "-"], workload("DaemonSet", "agent"))).stdout,
    ).toBe("daemonset.apps/agent created\n");
    await k("rollout", "status", "daemonset/agent", "--timeout=90s");
    const ds = await getJson("daemonset", "agent");
    const [rev] = (await getJson("controllerrevisions", "-l", "app=agent")).items;
    const [pod] = (await getJson("pods", "-l", "app=agent")).items;
    const hash = pod.metadata.labels["controller-revision-hash"];
    expect(rev.metadata.name).toBe(`agent-${hash}`);
    expect(rev.revision).toBe(1);
    expect(rev.metadata.labels).toEqual({ app: "agent", "controller-revision-hash": hash });
    expect(rev.metadata.annotations["kubernetes.io/change-cause"]).toBe("first");
    expect(rev.metadata.ownerReferences).toEqual([
      {
        apiVersion: "apps/v1",
        kind: "DaemonSet",
        name: "agent",
        uid: ds.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(rev.data.spec.template.$patch).toBe("replace");
    expect(await k("get", "controllerrevisions")).toMatch(
      new RegExp(`^NAME\\s+CONTROLLER\\s+REVISION\\s+AGE\\nagent-${hash}\\s+daemonset.apps/agent\\s+1\\s+`),
    );
  });

  it("rollout history lists revisions; rollout undo restores the previous template and renumbers it", async () => {
    await k("annotate", "daemonset", "agent", "kubernetes.io/change-cause=second", "--overwrite");
    await k("set", "image", "daemonset/agent", "c=busybox:1.37");
    await k("rollout", "status", "daemonset/agent", "--timeout=90s");
    await eventually(async () => (await revisions("app=agent")).length === 2, 30_000, "two revisions");
    expect(await k("rollout", "history", "daemonset/agent")).toBe(
      "daemonset.apps/agent \nREVISION  CHANGE-CAUSE\n1         first\n2         second\n\n",
    );
    expect(await k("rollout", "undo", "daemonset/agent")).toBe("daemonset.apps/agent rolled back\n");
    await k("rollout", "status", "daemonset/agent", "--timeout=90s");
    await eventually(
      async () => (await revisions("app=agent")).join() === "2 busybox:1.37,3 busybox:1.36",
      30_000,
      "revision 1 renumbered to 3",
    );
    const [pod] = (await getJson("pods", "-l", "app=agent")).items.filter(
      (p: Json) => !p.metadata.deletionTimestamp,
    );
    expect(pod.spec.containers[0].image).toBe("busybox:1.36");
    // undoing to the template already running is skipped, as kubectl compares the revision data
    expect(await k("rollout", "undo", "daemonset/agent", "--to-revision=3")).toBe(
      "daemonset.apps/agent skipped rollback (current template already matches revision 3)\n",
    );
  });
});

describe.skipIf(!hasKubectl)("StatefulSet revisions", () => {
  it("rollout history and undo through the revisions named like status.updateRevision", async () => {
    expect(
      (await kubectl(server.kubeconfigPath, ["create", "-f", "-"], workload("StatefulSet", "db"))).stdout,
    ).toBe("statefulset.apps/db created\n");
    await k("rollout", "status", "statefulset/db", "--timeout=90s");
    const first = (await getJson("statefulset", "db")).status.updateRevision;
    await k("set", "image", "statefulset/db", "c=busybox:1.37");
    await k("rollout", "status", "statefulset/db", "--timeout=90s");
    const sts = await getJson("statefulset", "db");
    expect(sts.status.updateRevision).not.toBe(first);
    expect(
      (await getJson("controllerrevisions", "-l", "app=db")).items.map((r: Json) => r.metadata.name).sort(),
    ).toEqual([first, sts.status.updateRevision].sort());
    // StatefulSet revisions carry no annotations of the object: no change cause
    expect(await k("rollout", "history", "statefulset/db")).toBe(
      "statefulset.apps/db \nREVISION  CHANGE-CAUSE\n1         <none>\n2         <none>\n\n",
    );
    expect(await k("rollout", "undo", "statefulset/db")).toBe("statefulset.apps/db rolled back\n");
    await eventually(
      async () => (await getJson("statefulset", "db")).status.updateRevision === first,
      30_000,
      "back on the first revision",
    );
    await k("rollout", "status", "statefulset/db", "--timeout=90s");
    expect(await revisions("app=db")).toEqual(["2 busybox:1.37", "3 busybox:1.36"]);
    const pod = await getJson("pod", "db-0");
    expect([pod.spec.containers[0].image, pod.metadata.labels["controller-revision-hash"]]).toEqual([
      "busybox:1.36",
      first,
    ]);
  });
});
