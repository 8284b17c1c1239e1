import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { rfc3339 } from "./core.js";
import { findResource } from "./resources.js";
import { type ApiServer, startApiServer } from "./server.js";
import { kubectl, requireKubectl } from "./test-support.js";
import type { Json, KubeObject } from "./types.js";

// batch/v1 CronJobs through kubectl, on the simulator's injectable clock: the test steps time and
// runs the controllers once (syncControllers), as the CronJob controller would see it.

const hasKubectl = await requireKubectl("the CronJob tests");

let nowMs = Date.parse("2026-03-02T10:02:00Z"); // a Monday
let server: ApiServer;
const jobs = findResource("batch", "v1", "jobs")!;
const cronJobs = findResource("batch", "v1", "cronjobs")!;
const events = findResource("", "v1", "events")!;

beforeAll(async () => {
  server = await startApiServer({
    clock: { now: () => nowMs },
    // Jobs are finished by the test itself, so only the CronJob controller runs
    controllers: {
      scheduler: false,
      endpointSlices: false,
      nodeLifecycle: false,
      jobs: false,
      deployments: false,
      daemonSets: false,
      statefulSets: false,
    },
  });
});
afterAll(async () => {
  await server?.stop();
});

const k = (args: string[], stdin?: string) => kubectl(server.kubeconfigPath, args, stdin);
async function stepTo(iso: string): Promise<void> {
  nowMs = Date.parse(iso);
  await server.syncControllers();
}
const cronJob = (name: string): KubeObject => server.core.find(cronJobs, "default", name)!;
const jobsOf = (name: string): KubeObject[] =>
  server.storage
    .list(jobs.key, "default")
    .filter((j) => j.metadata.ownerReferences?.some((r: Json) => r.kind === "CronJob" && r.name === name))
    .sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : 1));
const eventsOf = (name: string): string[] =>
  server.storage
    .list(events.key, "default")
    .filter((e) => e.involvedObject?.kind === "CronJob" && e.involvedObject.name === name)
    .map((e) => `${e.type} ${e.reason} ${e.message}`);
/** Finishes a Job as the Job controller would (condition + completionTime). */
function finishJob(name: string, type: "Complete" | "Failed"): void {
  const now = rfc3339(nowMs);
  server.core.mutate(
    jobs,
    "default",
    name,
    (j) => ({
      ...j,
      status: {
        startTime: j.status?.startTime ?? now,
        ...(type === "Complete" ? { completionTime: now, succeeded: 1 } : { failed: 1 }),
        conditions: [{ type, status: "True", lastProbeTime: now, lastTransitionTime: now }],
      },
    }),
    "status",
  );
}
const minutes = (iso: string) => Math.floor(Date.parse(iso) / 60_000);

describe.skipIf(!hasKubectl)("CronJobs", () => {
  it("kubectl create cronjob: defaults, the Job at the first activation, status and columns", async () => {
    const created = await k([
      "create",
      "cronjob",
      "hello",
      "--image=busybox:1.36",
      "--schedule=*/5 * * * *",
      "--",
      "date",
    ]);
    expect(created.stderr).toBe("");
    expect(created.stdout).toBe("cronjob.batch/hello created\n");
    const cj = cronJob("hello");
    expect(cj.spec).toMatchObject({
      schedule: "*/5 * * * *",
      concurrencyPolicy: "Allow",
      suspend: false,
      successfulJobsHistoryLimit: 3,
      failedJobsHistoryLimit: 1,
      jobTemplate: { metadata: { name: "hello", creationTimestamp: null } },
    });
    expect(cj.spec.jobTemplate.spec.template.spec.restartPolicy).toBe("OnFailure");

    await stepTo("2026-03-02T10:04:59Z");
    expect(jobsOf("hello")).toEqual([]);
    await stepTo("2026-03-02T10:05:00Z");
    const [job] = jobsOf("hello");
    expect(job?.metadata.name).toBe(`hello-${minutes("2026-03-02T10:05:00Z")}`);
    expect(job?.metadata.annotations).toEqual({
      "batch.kubernetes.io/cronjob-scheduled-timestamp": "2026-03-02T10:05:00Z",
    });
    expect(job?.metadata.ownerReferences).toEqual([
      {
        apiVersion: "batch/v1",
        kind: "CronJob",
        name: "hello",
        uid: cj.metadata.uid,
        controller: true,
        blockOwnerDeletion: true,
      },
    ]);
    expect(job?.spec.template.spec.containers[0]).toMatchObject({
      name: "hello",
      image: "busybox:1.36",
      command: ["date"],
    });
    expect(cronJob("hello").status).toEqual({
      active: [
        {
          kind: "Job",
          namespace: "default",
          name: job!.metadata.name,
          uid: job!.metadata.uid,
          apiVersion: "batch/v1",
          resourceVersion: job!.metadata.resourceVersion,
        },
      ],
      lastScheduleTime: "2026-03-02T10:05:00Z",
    });
    expect(eventsOf("hello")).toEqual([`Normal SuccessfulCreate Created job ${job!.metadata.name}`]);

    const table = await k(["get", "cronjob", "hello"]);
    expect(table.stdout.split("\n")[0]).toMatch(
      /^NAME\s+SCHEDULE\s+TIMEZONE\s+SUSPEND\s+ACTIVE\s+LAST SCHEDULE\s+AGE$/,
    );
    expect(table.stdout.split("\n")[1]).toMatch(
      /^hello\s+\*\/5 \* \* \* \*\s+<none>\s+False\s+1\s+\S+\s+\S+$/,
    );
  });

  it("a finished Job leaves the active list; lastSuccessfulTime follows it; history limits delete the oldest", async () => {
    const first = jobsOf("hello")[0]!.metadata.name;
    await stepTo("2026-03-02T10:06:00Z");
    finishJob(first, "Complete");
    await server.syncControllers();
    expect(cronJob("hello").status.active).toBeUndefined();
    expect(cronJob("hello").status.lastSuccessfulTime).toBe("2026-03-02T10:06:00Z");
    expect(eventsOf("hello")).toContain(
      `Normal SawCompletedJob Saw completed job: ${first}, condition: Complete`,
    );
    // three more successful runs: only successfulJobsHistoryLimit (3) finished Jobs are kept
    for (const t of ["10:10", "10:15", "10:20"]) {
      await stepTo(`2026-03-02T${t}:00Z`);
      const newest = jobsOf("hello").find((j) => !j.status?.conditions)!;
      nowMs += 30_000;
      finishJob(newest.metadata.name, "Complete");
      await server.syncControllers();
    }
    expect(jobsOf("hello").map((j) => j.metadata.name)).toEqual(
      ["10:10", "10:15", "10:20"].map((t) => `hello-${minutes(`2026-03-02T${t}:00Z`)}`),
    );
    expect(eventsOf("hello")).toContain(`Normal SuccessfulDelete Deleted job ${first}`);
  });

  it("kubectl create job --from=cronjob/x runs the template once, owned by the CronJob", async () => {
    const r = await k(["create", "job", "hello-manual", "--from=cronjob/hello"]);
    expect(r.stderr).toBe("");
    expect(r.stdout).toBe("job.batch/hello-manual created\n");
    const job = server.core.find(jobs, "default", "hello-manual")!;
    expect(job.metadata.annotations).toEqual({ "cronjob.kubernetes.io/instantiate": "manual" });
    expect(job.metadata.ownerReferences).toMatchObject([
      { kind: "CronJob", name: "hello", controller: true },
    ]);
    expect(job.spec.template.spec.containers[0].command).toEqual(["date"]);
    // not in the active list: the controller reports a Job it did not create
    await server.syncControllers();
    expect(eventsOf("hello")).toContain(
      "Warning UnexpectedJob Saw a job that the controller did not create or forgot: hello-manual",
    );
    expect(cronJob("hello").status.active).toBeUndefined();
  });

  it("Forbid skips a run while one is active; Replace deletes the active one first", async () => {
    const manifest = (name: string, policy: string) =>
      JSON.stringify({
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: { name },
        spec: {
          schedule: "@hourly",
          concurrencyPolicy: policy,
          jobTemplate: {
            spec: {
              template: {
                spec: { restartPolicy: "Never", containers: [{ name: "c", image: "busybox:1.36" }] },
              },
            },
          },
        },
      });
    expect((await k(["create", "-f", "-"], manifest("forbid", "Forbid"))).stderr).toBe("");
    expect((await k(["create", "-f", "-"], manifest("replace", "Replace"))).stderr).toBe("");
    await stepTo("2026-03-02T11:00:00Z");
    await stepTo("2026-03-02T12:00:00Z");
    expect(jobsOf("forbid").map((j) => j.metadata.name)).toEqual([
      `forbid-${minutes("2026-03-02T11:00:00Z")}`,
    ]);
    expect(eventsOf("forbid")).toContain(
      "Normal JobAlreadyActive Not starting job because prior execution is running and concurrency policy is Forbid",
    );
    expect(cronJob("forbid").status.lastScheduleTime).toBe("2026-03-02T11:00:00Z");
    const replaced = `replace-${minutes("2026-03-02T11:00:00Z")}`;
    expect(eventsOf("replace")).toContain(`Normal SuccessfulDelete Deleted job ${replaced}`);
    const live = jobsOf("replace").filter((j) => !j.metadata.deletionTimestamp);
    expect(live.map((j) => j.metadata.name)).toEqual([`replace-${minutes("2026-03-02T12:00:00Z")}`]);
    expect(cronJob("replace").status.active.map((r: Json) => r.name)).toEqual([
      `replace-${minutes("2026-03-02T12:00:00Z")}`,
    ]);
  });

  it("suspend, timeZone and startingDeadlineSeconds", async () => {
    const manifest = (name: string, spec: Json) =>
      JSON.stringify({
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: { name },
        spec: {
          ...spec,
          jobTemplate: {
            spec: {
              template: {
                spec: { restartPolicy: "Never", containers: [{ name: "c", image: "busybox:1.36" }] },
              },
            },
          },
        },
      });
    await k(["create", "-f", "-"], manifest("paused", { schedule: "* * * * *", suspend: true }));
    await k(["create", "-f", "-"], manifest("tokyo", { schedule: "0 9 * * *", timeZone: "Asia/Tokyo" }));
    await k(
      ["create", "-f", "-"],
      manifest("deadline", { schedule: "0 * * * *", startingDeadlineSeconds: 60 }),
    );
    await stepTo("2026-03-02T13:30:00Z");
    // the 13:00 run of "deadline" is more than 60 s late: never started
    expect(jobsOf("deadline")).toEqual([]);
    await stepTo("2026-03-03T00:00:30Z");
    expect(jobsOf("paused")).toEqual([]);
    const [tokyo] = jobsOf("tokyo");
    expect(tokyo?.metadata.annotations?.["batch.kubernetes.io/cronjob-scheduled-timestamp"]).toBe(
      "2026-03-03T09:00:00+09:00",
    );
    expect(jobsOf("deadline").map((j) => j.metadata.name)).toEqual([
      `deadline-${minutes("2026-03-03T00:00:00Z")}`,
    ]);
    expect((await k(["get", "cronjob", "tokyo", "--no-headers"])).stdout).toMatch(
      /^tokyo\s+0 9 \* \* \*\s+Asia\/Tokyo\s+False\s+1\s/,
    );
    // resuming starts only the most recent missed run
    expect(
      (await k(["patch", "cronjob", "paused", "--type=merge", "-p", '{"spec":{"suspend":false}}'])).stderr,
    ).toBe("");
    await server.syncControllers();
    expect(jobsOf("paused").map((j) => j.metadata.name)).toEqual([
      `paused-${minutes("2026-03-03T00:00:00Z")}`,
    ]);
    expect(eventsOf("paused")).toContain(
      "Warning TooManyMissedTimes too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
    );
  });

  it("an invalid schedule or time zone is 422 with the parser's message", async () => {
    const r = await k(["create", "cronjob", "bad", "--image=busybox:1.36", "--schedule=61 * * * *"]);
    expect(r.stderr).toBe(
      'error: failed to create cronjob: CronJob.batch "bad" is invalid: spec.schedule: Invalid value: "61 * * * *": end of range (61) above maximum (59): 61\n',
    );
    const tz = await k(
      ["create", "-f", "-"],
      JSON.stringify({
        apiVersion: "batch/v1",
        kind: "CronJob",
        metadata: { name: "badtz" },
        spec: {
          schedule: "TZ=UTC 0 * * * *",
          timeZone: "Mars/Olympus",
          jobTemplate: {
            spec: {
              template: { spec: { restartPolicy: "Never", containers: [{ name: "c", image: "x:1" }] } },
            },
          },
        },
      }),
    );
    expect(tz.stderr).toBe(
      [
        'The CronJob "badtz" is invalid: ',
        '* spec.schedule: Invalid value: "TZ=UTC 0 * * * *": cannot use TZ or CRON_TZ in schedule, use timeZone field instead',
        '* spec.timeZone: Invalid value: "Mars/Olympus": unknown time zone Mars/Olympus',
        "",
      ].join("\n"),
    );
  });
});
