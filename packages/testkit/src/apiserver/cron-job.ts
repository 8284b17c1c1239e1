import { CronParseError, isKnownTimeZone, parseCron } from "./cron.js";
import { validatePodSpec } from "./pod-validation.js";
import { type FieldError, fieldInvalid, fieldNotSupported, fieldRequired } from "./status.js";
import type { Json, KubeObject } from "./types.js";
import { defaultTemplate } from "./workloads.js";

/** SetDefaults_CronJob (batch/v1) plus the pod template defaults inside the job template. */
export function defaultCronJob(obj: KubeObject): void {
  obj.spec ??= {};
  const s = obj.spec;
  if (typeof s !== "object") return;
  s.concurrencyPolicy ??= "Allow";
  s.suspend ??= false;
  s.successfulJobsHistoryLimit ??= 3;
  s.failedJobsHistoryLimit ??= 1;
  const jt = s.jobTemplate;
  if (!jt || typeof jt !== "object") return;
  // metav1.Time zero values, as a real server shows them
  if (jt.metadata && typeof jt.metadata === "object") {
    if (!("creationTimestamp" in jt.metadata)) jt.metadata.creationTimestamp = null;
  } else jt.metadata = { creationTimestamp: null };
  if (jt.spec && typeof jt.spec === "object") defaultTemplate(jt.spec);
}

function nonNegative(errs: FieldError[], field: string, v: Json): void {
  if (v !== undefined && v !== null && (!Number.isInteger(v) || v < 0))
    errs.push(fieldInvalid(field, v, "must be greater than or equal to 0"));
}

/** ValidateCronJobCreate/Update (pkg/apis/batch/validation), a useful subset. */
export function validateCronJob(obj: KubeObject): FieldError[] {
  const errs: FieldError[] = [];
  // the controller appends "-<minutes>" (11 characters) to make Job names
  const name: string = obj.metadata.name ?? "";
  if (name.length > 52) errs.push(fieldInvalid("metadata.name", name, "must be no more than 52 characters"));
  const s = obj.spec;
  if (!s || typeof s !== "object") return [...errs, fieldRequired("spec.schedule")];
  const tz: Json = s.timeZone;
  if (typeof s.schedule !== "string" || !s.schedule) errs.push(fieldRequired("spec.schedule"));
  else {
    try {
      parseCron(s.schedule);
    } catch (e) {
      if (!(e instanceof CronParseError)) throw e;
      errs.push(fieldInvalid("spec.schedule", s.schedule, e.message));
    }
    if (s.schedule.includes("TZ"))
      errs.push(
        fieldInvalid(
          "spec.schedule",
          s.schedule,
          "cannot use TZ or CRON_TZ in schedule, use timeZone field instead",
        ),
      );
  }
  if (tz !== undefined && tz !== null) {
    if (tz === "") errs.push(fieldInvalid("spec.timeZone", tz, "timeZone must be nil or non-empty string"));
    else if (String(tz).toLowerCase() === "local")
      errs.push(
        fieldInvalid(
          "spec.timeZone",
          tz,
          "timeZone must be an explicit time zone as defined in https://www.iana.org/time-zones",
        ),
      );
    else if (!isKnownTimeZone(String(tz)))
      errs.push(fieldInvalid("spec.timeZone", tz, `unknown time zone ${tz}`));
  }
  nonNegative(errs, "spec.startingDeadlineSeconds", s.startingDeadlineSeconds);
  const policies = ["Allow", "Forbid", "Replace"];
  if (!s.concurrencyPolicy) errs.push(fieldRequired("spec.concurrencyPolicy"));
  else if (!policies.includes(s.concurrencyPolicy))
    errs.push(fieldNotSupported("spec.concurrencyPolicy", s.concurrencyPolicy, policies));
  nonNegative(errs, "spec.successfulJobsHistoryLimit", s.successfulJobsHistoryLimit);
  nonNegative(errs, "spec.failedJobsHistoryLimit", s.failedJobsHistoryLimit);
  const js = s.jobTemplate?.spec;
  const ps = js?.template?.spec;
  if (!ps || typeof ps !== "object")
    errs.push(fieldRequired("spec.jobTemplate.spec.template.spec.containers"));
  else {
    errs.push(...validatePodSpec(ps, "spec.jobTemplate.spec.template.spec", { checkRestartPolicy: false }));
    if (!["OnFailure", "Never"].includes(ps.restartPolicy))
      errs.push(
        fieldNotSupported("spec.jobTemplate.spec.template.spec.restartPolicy", ps.restartPolicy, [
          "OnFailure",
          "Never",
        ]),
      );
  }
  if (js && typeof js === "object") {
    nonNegative(errs, "spec.jobTemplate.spec.parallelism", js.parallelism);
    nonNegative(errs, "spec.jobTemplate.spec.completions", js.completions);
    nonNegative(errs, "spec.jobTemplate.spec.backoffLimit", js.backoffLimit);
  }
  return errs;
}
