import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { type ApiServer, startApiServer } from "./server.js";
import { eventually, kubectl, raw, requireKubectl, startTestAgent, type TestAgent } from "./test-support.js";
import type { Json } from "./types.js";

const hasKubectl = await requireKubectl("the workload (apps/v1, batch/v1) tests");

let server: ApiServer;
let agent: TestAgent;
let kc: string;
/** Added to the server's wall clock: steps time past a Job's pod re-creation delay. */
let skewMs = 0;

beforeAll(async () => {
  server = await startApiServer({
    clock: { now: () => Date.now() + skewMs },
    // the node lifecycle controller would read a clock step as a missed heartbeat
    controllers: { nodeLifecycle: false },
    controllerSyncIntervalMs: 200,
  });
  kc = server.kubeconfigPath;
  agent = await startTestAgent(server, "node-a");
});
afterAll(async () => {
  await agent?.stop();
  await server?.stop();
});

const k = async (...args: string[]): Promise<string> => {
  const r = await kubectl(kc, args);
  if (r.code !== 0) throw new Error(`kubectl ${args.join(" ")} exited ${r.code}: ${r.stderr}`);
  return r.stdout;
};
const getJson = async (...args: string[]): Promise<Json> => JSON.parse(await k("get", ...args, "-o", "json"));
const podsOf = async (selector: string): Promise<Json[]> =>
  (await getJson("pods", "-l", selector)).items.filter((p: Json) => !p.metadata.deletionTimestamp);
const events = async (name: string): Promise<string[]> =>
  (await getJson("events", "--field-selector", `involvedObject.name=${name}`)).items.map(
    (e: Json) => `${e.reason}: ${e.message}`,
  );

describe.skipIf(!hasKubectl)("apps/v1 Deployments through kubectl", () => {
  it("create deployment starts 3 pods and rollout status reports success", async () => {
    expect(await k("create", "deployment", "web", "--image=nginx:1.27", "--replicas=3")).toBe(
      "deployment.apps/web created\n",
    );
    const status = await k("rollout", "status", "deployment/web", "--timeout=90s");
    expect(status.trim().split("\n").at(-1)).toBe('deployment "web" successfully rolled out');
    const d = await getJson("deployment", "web");
    expect(d.status).toMatchObject({
      replicas: 3,
      updatedReplicas: 3,
      readyReplicas: 3,
      availableReplicas: 3,
    });
    expect(d.metadata.annotations["deployment.kubernetes.io/revision"]).toBe("1");
    expect(d.status.conditions.map((c: Json) => `${c.type}=${c.status} ${c.reason}`)).toEqual([
      "Available=True MinimumReplicasAvailable",
      "Progressing=True NewReplicaSetAvailable",
    ]);
    const [rs] = (await getJson("replicasets", "-l", "app=web")).items;
    const hash = rs.metadata.labels["pod-template-hash"];
    expect(hash).toMatch(/^[456789bcdf]{1,10}$/);
    expect(rs.metadata.name).toBe(`web-${hash}`);
    expect(rs.metadata.ownerReferences).toEqual([
      {
        apiVersion: "apps/v1",
        kind: "Deployment",
        name: "web",
        uid: d.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(rs.spec.selector.matchLabels).toEqual({ app: "web", "pod-template-hash": hash });
    const pods = await podsOf("app=web");
    expect(pods).toHaveLength(3);
    for (const p of pods) {
      expect(p.metadata.name).toMatch(new RegExp(`^web-${hash}-[bcdfghjklmnpqrstvwxz2456789]{5}$`));
      expect(p.metadata.ownerReferences[0]).toMatchObject({ kind: "ReplicaSet", name: rs.metadata.name });
    }
    expect(await events("web")).toContain(`ScalingReplicaSet: Scaled up replica set web-${hash} to 3`);
    const table = await k("get", "deployment", "web");
    expect(table).toMatch(/^NAME\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+AGE\nweb\s+3\/3\s+3\s+3\s+/);
  });

  it("expose deployment makes a Service whose EndpointSlice lists the pods", async () => {
    expect(await k("expose", "deployment", "web", "--port=80")).toBe("service/web exposed\n");
    await eventually(
      async () => {
        const slices = (await getJson("endpointslices", "-l", "kubernetes.io/service-name=web")).items;
        return (
          slices.flatMap((s: Json) => s.endpoints ?? []).filter((e: Json) => e.conditions.ready).length === 3
        );
      },
      30_000,
      "3 ready endpoints",
    );
  });

  it("scale --replicas=5 goes through the scale subresource", async () => {
    const scale = JSON.parse(
      await k("get", "--raw", "/apis/apps/v1/namespaces/default/deployments/web/scale"),
    );
    expect(scale).toMatchObject({
      kind: "Scale",
      apiVersion: "autoscaling/v1",
      spec: { replicas: 3 },
      status: { replicas: 3, selector: "app=web" },
    });
    expect(await k("scale", "deployment", "web", "--replicas=5")).toBe("deployment.apps/web scaled\n");
    await k("rollout", "status", "deployment/web", "--timeout=90s");
    expect(await podsOf("app=web")).toHaveLength(5);
    const stale = await kubectl(kc, ["scale", "deployment", "web", "--replicas=4", "--current-replicas=3"]);
    expect(stale.code).not.toBe(0);
    expect(stale.stderr).toContain("Expected replicas to be 3, was 5");
  });

  it("set image rolls out a new ReplicaSet within maxSurge and maxUnavailable", async () => {
    const before = agent.maxLivePods;
    expect(before).toBe(5);
    expect(await k("set", "image", "deployment/web", "nginx=nginx:1.28")).toBe(
      "deployment.apps/web image updated\n",
    );
    const status = await k("rollout", "status", "deployment/web", "--timeout=90s");
    expect(status).toContain('deployment "web" successfully rolled out');
    const pods = await podsOf("app=web");
    expect(pods.map((p: Json) => p.spec.containers[0].image)).toEqual(Array(5).fill("nginx:1.28"));
    // 5 replicas at 25 %: maxSurge 2 (rounded up), so never more than 7 pods at once
    expect(agent.maxLivePods).toBeLessThanOrEqual(7);
    const rss = (await getJson("replicasets", "-l", "app=web")).items;
    expect(
      rss
        .map((r: Json) => [r.metadata.annotations["deployment.kubernetes.io/revision"], r.spec.replicas])
        .sort(),
    ).toEqual([
      ["1", 0],
      ["2", 5],
    ]);
    const history = await k("rollout", "history", "deployment/web");
    expect(history).toMatch(/REVISION\s+CHANGE-CAUSE\n1\s+<none>\n2\s+<none>/);
  });

  it("rollout undo goes back to revision 1's template as revision 3", async () => {
    expect(await k("rollout", "undo", "deployment/web")).toBe("deployment.apps/web rolled back\n");
    await k("rollout", "status", "deployment/web", "--timeout=90s");
    const pods = await podsOf("app=web");
    expect(pods.map((p: Json) => p.spec.containers[0].image)).toEqual(Array(5).fill("nginx:1.27"));
    const d = await getJson("deployment", "web");
    expect(d.metadata.annotations["deployment.kubernetes.io/revision"]).toBe("3");
    const rss = (await getJson("replicasets", "-l", "app=web")).items;
    const reused = rss.find((r: Json) => r.spec.replicas === 5);
    expect(reused.metadata.annotations).toMatchObject({
      "deployment.kubernetes.io/revision": "3",
      "deployment.kubernetes.io/revision-history": "1",
    });
    expect(rss).toHaveLength(2);
  });

  it("a Recreate Deployment scales the old ReplicaSet to zero before the new one", async () => {
    const manifest = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "batchy" },
      spec: {
        replicas: 2,
        strategy: { type: "Recreate" },
        selector: { matchLabels: { app: "batchy" } },
        template: {
          metadata: { labels: { app: "batchy" } },
          spec: { containers: [{ name: "app", image: "busybox:1.36" }] },
        },
      },
    };
    const created = await kubectl(kc, ["create", "-f", "-"], JSON.stringify(manifest));
    expect(created.stdout).toBe("deployment.apps/batchy created\n");
    await k("rollout", "status", "deployment/batchy", "--timeout=90s");
    await k("set", "image", "deployment/batchy", "app=busybox:1.37");
    await k("rollout", "status", "deployment/batchy", "--timeout=90s");
    const log = (await events("batchy")).filter((e) => e.startsWith("ScalingReplicaSet"));
    const down = log.findIndex((e) => /Scaled down replica set batchy-\w+ to 0 from 2/.test(e));
    const up = log.findIndex((e, i) => i > 0 && /Scaled up replica set batchy-\w+ to 2/.test(e));
    expect(down).toBeGreaterThanOrEqual(0);
    expect(up).toBeGreaterThan(down);
  });

  it("invalid Deployments are 422 with upstream field messages", async () => {
    const bad = {
      apiVersion: "apps/v1",
      kind: "Deployment",
      metadata: { name: "bad" },
      spec: {
        selector: { matchLabels: { app: "x" } },
        template: { metadata: { labels: { app: "y" } }, spec: { containers: [{ name: "c", image: "i" }] } },
      },
    };
    const r = await raw(server, "POST", "/apis/apps/v1/namespaces/default/deployments", JSON.stringify(bad), {
      "Content-Type": "application/json",
    });
    expect(r.status).toBe(422);
    expect(r.body.reason).toBe("Invalid");
    expect(r.body.message).toContain(
      'Deployment.apps "bad" is invalid: spec.template.metadata.labels: Invalid value:',
    );
    expect(r.body.message).toContain("`selector` does not match template `labels`");
  });

  it("deleting the Deployment deletes its ReplicaSets and pods (background propagation)", async () => {
    expect(await k("delete", "deployment", "batchy")).toBe('deployment.apps "batchy" deleted\n');
    await eventually(
      async () => (await getJson("replicasets", "-l", "app=batchy")).items.length === 0,
      30_000,
      "RS gone",
    );
    await eventually(
      async () => (await getJson("pods", "-l", "app=batchy")).items.length === 0,
      30_000,
      "pods gone",
    );
  });
});

describe.skipIf(!hasKubectl)("batch/v1 Jobs through kubectl", () => {
  it("create job runs to completion and wait --for=condition=complete returns", async () => {
    expect(await k("create", "job", "hello", "--image=busybox:1.36", "--", "sh", "-c", "echo done")).toBe(
      "job.batch/hello created\n",
    );
    expect(await k("wait", "--for=condition=complete", "job/hello", "--timeout=90s")).toBe(
      "job.batch/hello condition met\n",
    );
    const job = await getJson("job", "hello");
    expect(job.spec).toMatchObject({
      completions: 1,
      parallelism: 1,
      backoffLimit: 6,
      completionMode: "NonIndexed",
    });
    expect(job.spec.selector.matchLabels).toEqual({ "batch.kubernetes.io/controller-uid": job.metadata.uid });
    expect(job.metadata.labels).toMatchObject({
      "batch.kubernetes.io/job-name": "hello",
      "job-name": "hello",
    });
    expect(job.status).toMatchObject({ succeeded: 1, ready: 0, terminating: 0, uncountedTerminatedPods: {} });
    expect(job.status.conditions.map((c: Json) => `${c.type}=${c.status} ${c.reason}`)).toEqual([
      "SuccessCriteriaMet=True CompletionsReached",
      "Complete=True CompletionsReached",
    ]);
    expect(job.status.completionTime).toBe(job.status.conditions[1].lastTransitionTime);
    const [pod] = (await getJson("pods", "-l", "job-name=hello")).items;
    expect(pod.metadata.finalizers).toBeUndefined();
    expect(pod.status.phase).toBe("Succeeded");
    expect(await k("get", "job", "hello")).toMatch(
      /^NAME\s+STATUS\s+COMPLETIONS\s+DURATION\s+AGE\nhello\s+Complete\s+1\/1\s+/,
    );
    expect(await events("hello")).toContain("Completed: Job completed");
  });

  it("completions 3 with parallelism 2 runs three pods", async () => {
    const job = {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "three" },
      spec: {
        completions: 3,
        parallelism: 2,
        template: {
          spec: {
            restartPolicy: "Never",
            containers: [{ name: "w", image: "busybox:1.36", command: ["true"] }],
          },
        },
      },
    };
    await kubectl(kc, ["create", "-f", "-"], JSON.stringify(job));
    expect(await k("wait", "--for=condition=complete", "job/three", "--timeout=90s")).toBe(
      "job.batch/three condition met\n",
    );
    expect((await getJson("job", "three")).status.succeeded).toBe(3);
    expect((await getJson("pods", "-l", "job-name=three")).items).toHaveLength(3);
  });

  it("a failing pod is retried after the backoff delay, then the Job fails past backoffLimit", async () => {
    const job = {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "flaky" },
      spec: {
        backoffLimit: 1,
        template: {
          spec: {
            restartPolicy: "Never",
            containers: [{ name: "w", image: "busybox:1.36", command: ["sh", "-c", "exit 1"] }],
          },
        },
      },
    };
    await kubectl(kc, ["create", "-f", "-"], JSON.stringify(job));
    await eventually(
      async () => (await getJson("job", "flaky")).status.failed === 1,
      30_000,
      "first failure counted",
    );
    // the replacement waits 10 s after the first failure (upstream backoff): step the clock past it
    skewMs += 11_000;
    await server.syncControllers();
    expect(await k("wait", "--for=condition=failed", "job/flaky", "--timeout=90s")).toBe(
      "job.batch/flaky condition met\n",
    );
    const done = await getJson("job", "flaky");
    expect(done.status.failed).toBe(2);
    expect(done.status.conditions.find((c: Json) => c.type === "Failed")).toMatchObject({
      reason: "BackoffLimitExceeded",
      message: "Job has reached the specified backoff limit",
    });
    expect(await events("flaky")).toContain(
      "BackoffLimitExceeded: Job has reached the specified backoff limit",
    );
    expect(await k("get", "job", "flaky")).toMatch(/flaky\s+Failed\s+0\/1\s+/);
  });

  it("a Job whose template restarts Always is 422", async () => {
    const r = await kubectl(
      kc,
      ["create", "-f", "-"],
      JSON.stringify({
        apiVersion: "batch/v1",
        kind: "Job",
        metadata: { name: "forever" },
        spec: { template: { spec: { containers: [{ name: "w", image: "busybox:1.36" }] } } },
      }),
    );
    expect(r.stderr).toContain(
      'The Job "forever" is invalid: spec.template.spec.restartPolicy: Unsupported value: "Always": supported values: "OnFailure", "Never"',
    );
  });

  it("kubectl delete job removes the Job's pods", async () => {
    await k("delete", "job", "three");
    await eventually(
      async () => (await getJson("pods", "-l", "job-name=three")).items.length === 0,
      30_000,
      "pods gone",
    );
    expect(
      parseYaml(await k("get", "jobs", "-o", "yaml")).items.map((j: Json) => j.metadata.name),
    ).not.toContain("three");
  });
});

describe.skipIf(!hasKubectl)("apps/v1 DaemonSets through kubectl", () => {
  let second: TestAgent;
  beforeAll(async () => {
    second = await startTestAgent(server, "node-b");
  });
  afterAll(async () => {
    await second?.stop();
    // nobody runs pods on node-b any more: later tests must not be scheduled there
    await kubectl(kc, ["delete", "node", "node-b"]);
  });
  const dsPods = async (): Promise<Json[]> =>
    (await getJson("pods", "-l", "app=agentd")).items.filter((p: Json) => !p.metadata.deletionTimestamp);

  it("runs one pod per eligible node, pinned by node affinity, and rolls out", async () => {
    const ds = {
      apiVersion: "apps/v1",
      kind: "DaemonSet",
      metadata: { name: "agentd" },
      spec: {
        selector: { matchLabels: { app: "agentd" } },
        template: {
          metadata: { labels: { app: "agentd" } },
          spec: { containers: [{ name: "agent", image: "busybox:1.36" }] },
        },
      },
    };
    expect((await kubectl(kc, ["create", "-f", "-"], JSON.stringify(ds))).stdout).toBe(
      "daemonset.apps/agentd created\n",
    );
    const status = await k("rollout", "status", "daemonset/agentd", "--timeout=90s");
    expect(status.trim().split("\n").at(-1)).toBe('daemon set "agentd" successfully rolled out');
    const pods = await dsPods();
    expect(pods.map((p: Json) => p.spec.nodeName).sort()).toEqual(["node-a", "node-b"]);
    for (const p of pods) {
      expect(p.metadata.labels["pod-template-generation"]).toBe("1");
      expect(p.metadata.labels["controller-revision-hash"]).toMatch(/^[456789bcdf]{1,10}$/);
      expect(
        p.spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms,
      ).toEqual([{ matchFields: [{ key: "metadata.name", operator: "In", values: [p.spec.nodeName] }] }]);
      expect(p.spec.tolerations).toContainEqual({
        key: "node.kubernetes.io/unreachable",
        operator: "Exists",
        effect: "NoExecute",
      });
    }
    expect(await k("get", "daemonset", "agentd")).toMatch(
      /^NAME\s+DESIRED\s+CURRENT\s+READY\s+UP-TO-DATE\s+AVAILABLE\s+NODE SELECTOR\s+AGE\nagentd\s+2\s+2\s+2\s+2\s+2\s+<none>\s+/,
    );
  });

  it("an untolerated NoExecute taint removes the node's pod; set image replaces every pod", async () => {
    await k("taint", "node", "node-b", "dedicated=infra:NoExecute");
    await eventually(async () => (await dsPods()).length === 1, 30_000, "node-b's pod gone");
    expect((await getJson("daemonset", "agentd")).status.desiredNumberScheduled).toBe(1);
    await k("taint", "node", "node-b", "dedicated=infra:NoExecute-");
    await k("rollout", "status", "daemonset/agentd", "--timeout=90s");
    expect(await k("set", "image", "daemonset/agentd", "agent=busybox:1.37")).toBe(
      "daemonset.apps/agentd image updated\n",
    );
    await k("rollout", "status", "daemonset/agentd", "--timeout=90s");
    const pods = await dsPods();
    expect(
      pods
        .map(
          (p: Json) =>
            `${p.spec.nodeName} ${p.spec.containers[0].image} ${p.metadata.labels["pod-template-generation"]}`,
        )
        .sort(),
    ).toEqual(["node-a busybox:1.37 2", "node-b busybox:1.37 2"]);
  });
});

describe.skipIf(!hasKubectl)("apps/v1 StatefulSets through kubectl", () => {
  const stsPods = async (): Promise<Json[]> =>
    (await getJson("pods", "-l", "app=db")).items.filter((p: Json) => !p.metadata.deletionTimestamp);

  it("creates db-0, db-1, db-2 in order with stable names, and scales down from the highest", async () => {
    const sts = {
      apiVersion: "apps/v1",
      kind: "StatefulSet",
      metadata: { name: "db" },
      spec: {
        replicas: 3,
        serviceName: "db",
        selector: { matchLabels: { app: "db" } },
        template: {
          metadata: { labels: { app: "db" } },
          spec: { containers: [{ name: "db", image: "busybox:1.36" }] },
        },
      },
    };
    expect((await kubectl(kc, ["create", "-f", "-"], JSON.stringify(sts))).stdout).toBe(
      "statefulset.apps/db created\n",
    );
    const status = await k("rollout", "status", "statefulset/db", "--timeout=90s");
    expect(status.trim().split("\n").at(-1)).toBe(
      "partitioned roll out complete: 3 new pods have been updated...",
    );
    const pods = await stsPods();
    expect(pods.map((p: Json) => p.metadata.name).sort()).toEqual(["db-0", "db-1", "db-2"]);
    const db1 = pods.find((p: Json) => p.metadata.name === "db-1");
    expect(db1.spec).toMatchObject({ hostname: "db-1", subdomain: "db" });
    expect(db1.metadata.labels).toMatchObject({
      "statefulset.kubernetes.io/pod-name": "db-1",
      "apps.kubernetes.io/pod-index": "1",
    });
    const d = await getJson("statefulset", "db");
    expect(db1.metadata.labels["controller-revision-hash"]).toBe(d.status.updateRevision);
    expect(d.status).toMatchObject({
      replicas: 3,
      readyReplicas: 3,
      updatedReplicas: 3,
      currentRevision: d.status.updateRevision,
    });
    const created = (await events("db")).filter((e) => e.startsWith("SuccessfulCreate"));
    expect(created).toEqual([
      "SuccessfulCreate: create Pod db-0 in StatefulSet db successful",
      "SuccessfulCreate: create Pod db-1 in StatefulSet db successful",
      "SuccessfulCreate: create Pod db-2 in StatefulSet db successful",
    ]);
    expect(await k("scale", "statefulset", "db", "--replicas=1")).toBe("statefulset.apps/db scaled\n");
    await eventually(
      async () => (await getJson("pods", "-l", "app=db")).items.length === 1,
      30_000,
      "scaled to 1",
    );
    expect((await stsPods()).map((p: Json) => p.metadata.name)).toEqual(["db-0"]);
    const deleted = (await events("db")).filter((e) => e.startsWith("SuccessfulDelete"));
    expect(deleted).toEqual([
      "SuccessfulDelete: delete Pod db-2 in StatefulSet db successful",
      "SuccessfulDelete: delete Pod db-1 in StatefulSet db successful",
    ]);
    expect(await k("get", "statefulset", "db")).toMatch(/^NAME\s+READY\s+AGE\ndb\s+1\/1\s+/);
  });
});
