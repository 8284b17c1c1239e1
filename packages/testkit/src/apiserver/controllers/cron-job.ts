import { rfc3339 } from "../core.js";
import { CronParseError, type CronSchedule, isKnownTimeZone, parseCron } from "../cron.js";
import { cloneJson } from "../patch.js";
import { StatusFailure } from "../status.js";
import type { Json, KubeObject } from "../types.js";
import {
  type Controller,
  type ControllerContext,
  controllerOf,
  controllerRef,
  ignoreMissing,
  R,
} from "./context.js";

const COMPONENT = "cronjob-controller";
/** The annotation with the nominal time a Job was scheduled for (CronJobsScheduledAnnotation, on in 1.32). */
export const SCHEDULED_TIMESTAMP = "batch.kubernetes.io/cronjob-scheduled-timestamp";
/** More missed start times than this and upstream warns TooManyMissedTimes. */
const MANY_MISSED = 100;

const finishedCondition = (j: KubeObject): string | undefined =>
  (j.status?.conditions ?? []).find(
    (c: Json) => (c.type === "Complete" || c.type === "Failed") && c.status === "True",
  )?.type;

/** Go's time.RFC1123Z ("Mon, 02 Jan 2006 15:04:05 -0700") in UTC, as MissSchedule events print it. */
function rfc1123z(ms: number): string {
  const d = new Date(ms);
  const pad = (n: number) => String(n).padStart(2, "0");
  const day = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"][d.getUTCDay()];
  const mon = ["Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"][
    d.getUTCMonth()
  ];
  return `${day}, ${pad(d.getUTCDate())} ${mon} ${d.getUTCFullYear()} ${pad(d.getUTCHours())}:${pad(d.getUTCMinutes())}:${pad(d.getUTCSeconds())} +0000`;
}

/** RFC 3339 with the zone's offset (time.Time.In(zone).Format(time.RFC3339)); UTC gives "Z". */
function rfc3339In(ms: number, zone: string | undefined): string {
  if (!zone || zone === "UTC") return rfc3339(ms);
  const f = new Intl.DateTimeFormat("en-US", {
    timeZone: zone,
    hourCycle: "h23",
    year: "numeric",
    month: "2-digit",
    day: "2-digit",
    hour: "2-digit",
    minute: "2-digit",
    second: "2-digit",
  });
  const p: Record<string, string> = {};
  for (const part of f.formatToParts(new Date(ms))) p[part.type] = part.value;
  const wall = Date.UTC(+p.year!, +p.month! - 1, +p.day!, +p.hour!, +p.minute!, +p.second!);
  const off = Math.round((wall - Math.floor(ms / 1000) * 1000) / 60_000);
  if (off === 0) return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}Z`;
  const sign = off < 0 ? "-" : "+";
  const abs = Math.abs(off);
  const hh = String(Math.floor(abs / 60)).padStart(2, "0");
  const mm = String(abs % 60).padStart(2, "0");
  return `${p.year}-${p.month}-${p.day}T${p.hour}:${p.minute}:${p.second}${sign}${hh}:${mm}`;
}

/**
 * mostRecentScheduleTime of pkg/controller/cronjob/utils.go: the latest activation in
 * (earliest, now], and whether more than 100 were missed.
 */
function mostRecentScheduleTime(
  cj: KubeObject,
  nowMs: number,
  sched: CronSchedule,
): { scheduledMs: number | undefined; manyMissed: boolean } {
  const s = cj.spec ?? {};
  let earliest = Date.parse(cj.status?.lastScheduleTime ?? cj.metadata.creationTimestamp);
  if (Number.isInteger(s.startingDeadlineSeconds)) {
    const deadline = nowMs - s.startingDeadlineSeconds * 1000;
    if (deadline > earliest) earliest = deadline;
  }
  const t1 = sched.next(earliest);
  if (!(t1 <= nowMs)) return { scheduledMs: undefined, manyMissed: false };
  const t2 = sched.next(t1);
  if (t2 > nowMs) return { scheduledMs: t1, manyMissed: false };
  // upstream counts missed activations from the first interval; the latest one is found exactly:
  // step back from now until the window holds an activation, then walk forward to now
  const interval = Math.max(1000, t2 - t1);
  const missed = Math.floor((nowMs - t1) / interval) + 1;
  let from = t1;
  for (let back = interval; nowMs - back > t1; back *= 2)
    if (sched.next(nowMs - back) <= nowMs) {
      from = sched.next(nowMs - back);
      break;
    }
  let latest = from;
  for (let t = sched.next(from); t <= nowMs; t = sched.next(t)) latest = t;
  return { scheduledMs: latest, manyMissed: missed > MANY_MISSED };
}

/**
 * The CronJob controller (pkg/controller/cronjob, the v2 controller of 1.32): creates the Job
 * `<cronjob>-<scheduled time in minutes>` for the most recent missed activation (with
 * startingDeadlineSeconds, timeZone, suspend and the Allow / Forbid / Replace concurrency
 * policies), tracks `status.active`, `lastScheduleTime` and `lastSuccessfulTime`, deletes finished
 * Jobs beyond the history limits, and records upstream's events. Time is the server's clock, so
 * a test steps it and calls `syncControllers()`.
 */
export function createCronJobController(ctx: ControllerContext): Controller {
  const { core, storage, watch, trigger, recordEvent } = ctx;
  const cronDef = R("batch", "cronjobs");
  const jobDef = R("batch", "jobs");
  const event = (cj: KubeObject, type: "Normal" | "Warning", reason: string, message: string) =>
    recordEvent(cj, type, reason, message, COMPONENT, "", cronDef);

  const deleteJob = (cj: KubeObject, status: Json, job: KubeObject): void => {
    ignoreMissing(() =>
      core.delete(jobDef, job.metadata.namespace ?? "", job.metadata.name, {
        propagationPolicy: "Background",
      }),
    );
    status.active = (status.active ?? []).filter((r: Json) => r.uid !== job.metadata.uid);
    event(cj, "Normal", "SuccessfulDelete", `Deleted job ${job.metadata.name}`);
  };

  const syncOne = (cj: KubeObject): void => {
    const ns = cj.metadata.namespace ?? "";
    const s = cj.spec ?? {};
    const nowMs = core.clock.now();
    const status: Json = cloneJson(cj.status ?? {});
    const before = JSON.stringify(status);
    const jobs = storage.list(jobDef.key, ns).filter((j) => controllerOf(j)?.uid === cj.metadata.uid);

    // reconcile the active list with the Jobs that exist
    for (const j of jobs) {
      const inActive = (status.active ?? []).some((r: Json) => r.uid === j.metadata.uid);
      const finished = finishedCondition(j);
      if (!inActive && !finished) {
        event(
          cj,
          "Warning",
          "UnexpectedJob",
          `Saw a job that the controller did not create or forgot: ${j.metadata.name}`,
        );
      } else if (inActive && finished) {
        status.active = status.active.filter((r: Json) => r.uid !== j.metadata.uid);
        event(
          cj,
          "Normal",
          "SawCompletedJob",
          `Saw completed job: ${j.metadata.name}, condition: ${finished}`,
        );
      } else if (finished && j.status?.completionTime) {
        const done = Date.parse(j.status.completionTime);
        if (!status.lastSuccessfulTime || done > Date.parse(status.lastSuccessfulTime))
          status.lastSuccessfulTime = j.status.completionTime;
      }
    }
    for (const ref of [...(status.active ?? [])]) {
      if (jobs.some((j) => j.metadata.uid === ref.uid)) continue;
      status.active = status.active.filter((r: Json) => r.uid !== ref.uid);
      event(cj, "Normal", "MissingJob", `Active job went missing: ${ref.name}`);
    }

    const schedule = (): void => {
      if (s.suspend === true) return;
      const zone: string | undefined = s.timeZone ?? undefined;
      if (zone !== undefined && !isKnownTimeZone(zone)) {
        event(cj, "Warning", "UnknownTimeZone", `invalid timeZone: "${zone}": unknown time zone ${zone}`);
        return;
      }
      let sched: CronSchedule;
      try {
        sched = parseCron(s.schedule ?? "", zone);
      } catch (e) {
        if (!(e instanceof CronParseError)) throw e;
        event(cj, "Warning", "UnparseableSchedule", `unparseable schedule: "${s.schedule}" : ${e.message}`);
        return;
      }
      const { scheduledMs, manyMissed } = mostRecentScheduleTime({ ...cj, status }, nowMs, sched);
      if (manyMissed)
        event(
          cj,
          "Warning",
          "TooManyMissedTimes",
          "too many missed start times. Set or decrease .spec.startingDeadlineSeconds or check clock skew",
        );
      if (scheduledMs === undefined) return;
      if (
        Number.isInteger(s.startingDeadlineSeconds) &&
        scheduledMs + s.startingDeadlineSeconds * 1000 < nowMs
      ) {
        event(
          cj,
          "Warning",
          "MissSchedule",
          `Missed scheduled time to start a job: ${rfc1123z(scheduledMs)}`,
        );
        return;
      }
      const name = `${cj.metadata.name}-${Math.floor(scheduledMs / 60_000)}`;
      const scheduled = rfc3339(scheduledMs);
      if ((status.active ?? []).some((r: Json) => r.name === name) || status.lastScheduleTime === scheduled)
        return;
      if (s.concurrencyPolicy === "Forbid" && (status.active ?? []).length > 0) {
        event(
          cj,
          "Normal",
          "JobAlreadyActive",
          "Not starting job because prior execution is running and concurrency policy is Forbid",
        );
        return;
      }
      if (s.concurrencyPolicy === "Replace")
        for (const ref of [...(status.active ?? [])]) {
          const job = jobs.find((j) => j.metadata.uid === ref.uid);
          if (job) deleteJob(cj, status, job);
        }
      const tmpl = cloneJson(s.jobTemplate ?? {});
      let job: KubeObject;
      try {
        job = core.create(jobDef, ns, {
          apiVersion: "batch/v1",
          kind: "Job",
          metadata: {
            name,
            namespace: ns,
            ...(tmpl.metadata?.labels ? { labels: tmpl.metadata.labels } : {}),
            annotations: {
              ...(tmpl.metadata?.annotations ?? {}),
              [SCHEDULED_TIMESTAMP]: rfc3339In(scheduledMs, zone),
            },
            ownerReferences: [controllerRef(cronDef, cj)],
          },
          spec: tmpl.spec ?? {},
        });
        event(cj, "Normal", "SuccessfulCreate", `Created job ${name}`);
      } catch (e) {
        if (!(e instanceof StatusFailure)) throw e;
        const existing = e.code === 409 ? core.find(jobDef, ns, name) : undefined;
        if (!existing || controllerOf(existing)?.uid !== cj.metadata.uid) {
          event(cj, "Warning", "FailedCreate", `Error creating job: ${e.message}`);
          return;
        }
        job = existing; // created by an earlier sync whose status write was lost
      }
      status.active = [
        ...(status.active ?? []),
        {
          kind: "Job",
          namespace: ns,
          name: job.metadata.name,
          uid: job.metadata.uid,
          apiVersion: "batch/v1",
          resourceVersion: job.metadata.resourceVersion,
        },
      ];
      status.lastScheduleTime = scheduled;
    };
    schedule();

    // cleanupFinishedJobs: keep the newest finished Jobs up to each history limit
    const removeOldest = (finished: KubeObject[], limit: number): void => {
      const byStart = [...finished].sort((a, b) => {
        const sa = a.status?.startTime;
        const sb = b.status?.startTime;
        if (!sa && sb) return 1;
        if (sa && !sb) return -1;
        if (sa !== sb) return Date.parse(sa) - Date.parse(sb);
        return a.metadata.name < b.metadata.name ? -1 : 1;
      });
      for (const j of byStart.slice(0, Math.max(0, byStart.length - limit))) deleteJob(cj, status, j);
    };
    const live = jobs.filter((j) => !j.metadata.deletionTimestamp);
    if (Number.isInteger(s.successfulJobsHistoryLimit))
      removeOldest(
        live.filter((j) => finishedCondition(j) === "Complete"),
        s.successfulJobsHistoryLimit,
      );
    if (Number.isInteger(s.failedJobsHistoryLimit))
      removeOldest(
        live.filter((j) => finishedCondition(j) === "Failed"),
        s.failedJobsHistoryLimit,
      );

    if (Array.isArray(status.active) && status.active.length === 0) delete status.active;
    if (JSON.stringify(status) === before) return;
    ignoreMissing(() => core.mutate(cronDef, ns, cj.metadata.name, (x) => ({ ...x, status }), "status"));
  };

  const sync = (): void => {
    for (const cj of storage.list(cronDef.key)) if (!cj.metadata.deletionTimestamp) syncOne(cj);
  };
  watch(cronDef, () => trigger("cronjobs"));
  watch(jobDef, (e) => {
    if (e.object.metadata.ownerReferences?.some((r) => r.kind === "CronJob")) trigger("cronjobs");
  });
  return { name: "cronjobs", sync };
}
