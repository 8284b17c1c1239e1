import { rfc3339 } from "../core.js";
import { cloneJson } from "../patch.js";
import type { Json, KubeObject } from "../types.js";
import { type Controller, type ControllerContext, ignoreMissing, R } from "./context.js";
import { claimPods, createPod, deletePod, isReady } from "./pod-control.js";

const COMPONENT = "job-controller";
/** Every Job pod carries this finalizer until the controller has counted it (job tracking). */
export const JOB_TRACKING_FINALIZER = "batch.kubernetes.io/job-tracking";
/** Pod re-creation delay after failures: 10 s doubling per failure, capped (backoff_utils.go). */
const BACKOFF_BASE_MS = 10_000;
const BACKOFF_MAX_MS = 10 * 60_000;

const hasCondition = (j: KubeObject, type: string): boolean =>
  (j.status?.conditions ?? []).some((c: Json) => c.type === type && c.status === "True");

/**
 * The Job controller (pkg/controller/job), NonIndexed completion mode: runs up to `parallelism`
 * pods until `completions` succeeded (or, without completions, until one succeeded and none is
 * active); counts finished pods through the job-tracking finalizer; re-creates failed pods after
 * an exponential delay until `failed > backoffLimit`; finishes with the two-step conditions of
 * 1.31+ (SuccessCriteriaMet then Complete, FailureTarget then Failed) that `kubectl wait`
 * reads; honours `suspend`.
 */
export function createJobController(ctx: ControllerContext): Controller {
  const { core, storage, watch, trigger, recordEvent } = ctx;
  const jobDef = R("batch", "jobs");
  const pods = R("", "pods");
  /** Per Job UID: consecutive failures since the last success and when the last one was counted. */
  const failures = new Map<string, { count: number; lastMs: number }>();

  const syncOne = (job: KubeObject): void => {
    const ns = job.metadata.namespace ?? "";
    const uid = job.metadata.uid;
    const s = job.spec ?? {};
    const nowMs = core.clock.now();
    const now = rfc3339(nowMs);
    const owned = claimPods(ctx, jobDef, job);
    const prev = job.status ?? {};
    let succeeded: number = prev.succeeded ?? 0;
    let failed: number = prev.failed ?? 0;
    const streak = failures.get(uid) ?? { count: 0, lastMs: 0 };

    // count finished pods once, then let them go (uncountedTerminatedPods + finalizer removal)
    for (const p of owned) {
      if (!(p.metadata.finalizers ?? []).includes(JOB_TRACKING_FINALIZER)) continue;
      const phase = p.status?.phase;
      const done =
        phase === "Succeeded" ||
        phase === "Failed" ||
        (p.metadata.deletionTimestamp !== undefined && s.podReplacementPolicy !== "Failed");
      if (!done) continue;
      if (phase === "Succeeded") {
        succeeded++;
        streak.count = 0;
      } else {
        failed++;
        streak.count++;
        streak.lastMs = nowMs;
      }
      ignoreMissing(() =>
        core.mutate(pods, ns, p.metadata.name, (x) => {
          x.metadata.finalizers = x.metadata.finalizers.filter((f: string) => f !== JOB_TRACKING_FINALIZER);
          if (!x.metadata.finalizers.length) delete x.metadata.finalizers;
          return x;
        }),
      );
    }
    failures.set(uid, streak);

    const finished = hasCondition(job, "Complete") || hasCondition(job, "Failed");
    let active = owned.filter(
      (p) => !p.metadata.deletionTimestamp && p.status?.phase !== "Succeeded" && p.status?.phase !== "Failed",
    );
    const terminating = () =>
      storage
        .list(pods.key, ns)
        .filter(
          (p) =>
            owned.some((o) => o.metadata.uid === p.metadata.uid) &&
            p.metadata.deletionTimestamp &&
            p.status?.phase !== "Succeeded" &&
            p.status?.phase !== "Failed",
        ).length;
    let conditions: Json[] = cloneJson(prev.conditions ?? []);
    const addCondition = (type: string, reason: string, message: string): void => {
      if (conditions.some((c) => c.type === type)) return;
      conditions = [
        ...conditions,
        { type, status: "True", lastProbeTime: now, lastTransitionTime: now, reason, message },
      ];
    };
    const status: Json = { ...prev };
    if (!finished) {
      const suspended = s.suspend === true;
      if (!suspended) status.startTime ??= now;
      const completions: number | undefined = s.completions ?? undefined;
      const reached =
        completions !== undefined ? succeeded >= completions : succeeded > 0 && active.length === 0;
      const failedOut = failed > (s.backoffLimit ?? 6);
      if (
        reached ||
        failedOut ||
        hasCondition(job, "SuccessCriteriaMet") ||
        hasCondition(job, "FailureTarget")
      ) {
        // a terminal decision: remove what still runs, then finish once nothing terminates
        for (const p of active) deletePod(ctx, jobDef, job, p, COMPONENT);
        active = [];
        const success = reached || hasCondition(job, "SuccessCriteriaMet");
        if (success)
          addCondition(
            "SuccessCriteriaMet",
            "CompletionsReached",
            "Reached expected number of succeeded pods",
          );
        else
          addCondition(
            "FailureTarget",
            "BackoffLimitExceeded",
            "Job has reached the specified backoff limit",
          );
        if (terminating() === 0) {
          if (success) {
            addCondition("Complete", "CompletionsReached", "Reached expected number of succeeded pods");
            status.completionTime = now;
            recordEvent(job, "Normal", "Completed", "Job completed", COMPONENT, "Complete", jobDef);
          } else {
            addCondition("Failed", "BackoffLimitExceeded", "Job has reached the specified backoff limit");
            recordEvent(
              job,
              "Warning",
              "BackoffLimitExceeded",
              "Job has reached the specified backoff limit",
              COMPONENT,
              "Fail",
              jobDef,
            );
          }
        }
      } else if (suspended) {
        for (const p of active) deletePod(ctx, jobDef, job, p, COMPONENT);
        active = [];
        if (!hasCondition(job, "Suspended")) {
          conditions = conditions.filter((c) => c.type !== "Suspended");
          conditions.push({
            type: "Suspended",
            status: "True",
            lastProbeTime: now,
            lastTransitionTime: now,
            reason: "JobSuspended",
            message: "Job suspended",
          });
          recordEvent(job, "Normal", "Suspended", "Job suspended", COMPONENT, "Suspend", jobDef);
        }
      } else {
        if (hasCondition(job, "Suspended")) {
          conditions = conditions.map((c) =>
            c.type === "Suspended"
              ? {
                  ...c,
                  status: "False",
                  lastProbeTime: now,
                  lastTransitionTime: now,
                  reason: "JobResumed",
                  message: "Job resumed",
                }
              : c,
          );
          recordEvent(job, "Normal", "Resumed", "Job resumed", COMPONENT, "Resume", jobDef);
        }
        const parallelism: number = s.parallelism ?? 1;
        const want =
          completions !== undefined
            ? Math.min(parallelism, completions - succeeded)
            : succeeded > 0
              ? 0
              : parallelism;
        const delayMs =
          streak.count > 0 ? Math.min(BACKOFF_BASE_MS * 2 ** (streak.count - 1), BACKOFF_MAX_MS) : 0;
        if (active.length < want && nowMs >= streak.lastMs + delayMs) {
          for (let i = active.length; i < want; i++) {
            const pod = createPod(ctx, jobDef, job, COMPONENT, { finalizers: [JOB_TRACKING_FINALIZER] });
            if (pod) active.push(pod);
          }
        } else if (active.length > want) {
          for (const p of active.slice(want)) deletePod(ctx, jobDef, job, p, COMPONENT);
          active = active.slice(0, want);
        }
      }
    }
    if (active.length) status.active = active.length;
    else delete status.active;
    status.ready = active.filter(isReady).length;
    status.terminating = terminating();
    if (succeeded) status.succeeded = succeeded;
    if (failed) status.failed = failed;
    status.uncountedTerminatedPods = {};
    if (conditions.length) status.conditions = conditions;
    ignoreMissing(() => core.mutate(jobDef, ns, job.metadata.name, (x) => ({ ...x, status }), "status"));
  };

  const sync = (): void => {
    const live = new Set<string>();
    for (const job of storage.list(jobDef.key)) {
      live.add(job.metadata.uid);
      if (!job.metadata.deletionTimestamp) syncOne(job);
    }
    for (const uid of failures.keys()) if (!live.has(uid)) failures.delete(uid);
  };
  watch(jobDef, () => trigger("jobs"));
  watch(pods, (e) => {
    if (e.object.metadata.ownerReferences?.some((r) => r.kind === "Job") || e.type === "ADDED")
      trigger("jobs");
  });
  return { name: "jobs", sync };
}
