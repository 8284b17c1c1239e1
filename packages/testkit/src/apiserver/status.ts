/** A field-level cause inside an Invalid Status, as kube-apiserver reports it. */
export interface StatusCause {
  reason?: string;
  message?: string;
  field?: string;
}

/** The reasons kube-apiserver puts into `Status.reason` that the simulator emits. */
export type StatusReason =
  /** StatusReasonUnknown: errors that are not API errors (e.g. storage refusing a write). */
  | ""
  | "BadRequest"
  | "Unauthorized"
  | "Forbidden"
  | "NotFound"
  | "AlreadyExists"
  | "Conflict"
  | "Gone"
  | "Expired"
  | "Invalid"
  | "MethodNotAllowed"
  | "NotAcceptable"
  | "UnsupportedMediaType"
  | "RequestEntityTooLarge"
  | "TooManyRequests"
  | "InternalError"
  | "ServiceUnavailable"
  | "Timeout";

/** The body of a meta/v1 Status. */
export interface StatusBody {
  kind: "Status";
  apiVersion: "v1";
  metadata: Record<string, never>;
  status: "Failure" | "Success";
  message?: string;
  reason?: StatusReason;
  details?: {
    name?: string;
    group?: string;
    kind?: string;
    uid?: string;
    causes?: StatusCause[];
    retryAfterSeconds?: number;
  };
  code: number;
}

/** Thrown inside request handling; rendered as a Status response with the HTTP code. */
export class StatusFailure extends Error {
  readonly code: number;
  readonly reason: StatusReason;
  readonly details: StatusBody["details"] | undefined;

  constructor(code: number, reason: StatusReason, message: string, details?: StatusBody["details"]) {
    super(message);
    this.code = code;
    this.reason = reason;
    this.details = details;
  }

  toStatus(): StatusBody {
    const body: StatusBody = {
      kind: "Status",
      apiVersion: "v1",
      metadata: {},
      status: "Failure",
      message: this.message,
      ...(this.reason ? { reason: this.reason } : {}),
      code: this.code,
    };
    if (this.details) body.details = this.details;
    return body;
  }
}

/** Group-qualified resource name as used in messages: `leases.coordination.k8s.io` or `pods`. */
export function qualified(plural: string, group: string): string {
  return group ? `${plural}.${group}` : plural;
}

export const notFound = (plural: string, group: string, name: string): StatusFailure =>
  new StatusFailure(404, "NotFound", `${qualified(plural, group)} "${name}" not found`, {
    name,
    ...(group ? { group } : {}),
    kind: plural,
  });

export const alreadyExists = (plural: string, group: string, name: string): StatusFailure =>
  new StatusFailure(409, "AlreadyExists", `${qualified(plural, group)} "${name}" already exists`, {
    name,
    ...(group ? { group } : {}),
    kind: plural,
  });

/** Mirrors apiserver's optimistic-concurrency message (storage.ErrCodeResourceVersionConflicts). */
export const conflict = (plural: string, group: string, name: string, why: string): StatusFailure =>
  new StatusFailure(
    409,
    "Conflict",
    `Operation cannot be fulfilled on ${qualified(plural, group)} "${name}": ${why}`,
    {
      name,
      ...(group ? { group } : {}),
      kind: plural,
    },
  );

export const STALE =
  "the object has been modified; please apply your changes to the latest version and try again";

export const badRequest = (message: string): StatusFailure => new StatusFailure(400, "BadRequest", message);

export const invalid = (kind: string, group: string, name: string, causes: FieldError[]): StatusFailure =>
  new StatusFailure(
    422,
    "Invalid",
    `${group ? `${kind}.${group}` : kind} "${name}" is invalid: ${causes.length === 1 ? causes[0]!.text : `[${causes.map((c) => c.text).join(", ")}]`}`,
    {
      name,
      ...(group ? { group } : {}),
      kind,
      causes: causes.map((c) => ({ reason: c.type, message: c.detail, field: c.field })),
    },
  );

export const forbidden = (plural: string, group: string, name: string, message: string): StatusFailure =>
  new StatusFailure(403, "Forbidden", message, {
    ...(name ? { name } : {}),
    ...(group ? { group } : {}),
    kind: plural,
  });

/** A field.Error: `type` is the field.ErrorType string ("FieldValueInvalid", ...). */
export interface FieldError {
  type: string;
  field: string;
  detail: string;
  text: string;
}

function quoteValue(value: unknown): string {
  return typeof value === "string" ? `"${value}"` : JSON.stringify(value);
}

export const fieldInvalid = (field: string, value: unknown, detail: string): FieldError => ({
  type: "FieldValueInvalid",
  field,
  detail: `Invalid value: ${quoteValue(value)}: ${detail}`,
  text: `${field}: Invalid value: ${quoteValue(value)}: ${detail}`,
});

export const fieldRequired = (field: string, detail = ""): FieldError => ({
  type: "FieldValueRequired",
  field,
  detail: "Required value" + (detail ? `: ${detail}` : ""),
  text: `${field}: Required value` + (detail ? `: ${detail}` : ""),
});

export const fieldForbidden = (field: string, detail: string): FieldError => ({
  type: "FieldValueForbidden",
  field,
  detail: `Forbidden: ${detail}`,
  text: `${field}: Forbidden: ${detail}`,
});

export const fieldDuplicate = (field: string, value: unknown): FieldError => ({
  type: "FieldValueDuplicate",
  field,
  detail: `Duplicate value: ${quoteValue(value)}`,
  text: `${field}: Duplicate value: ${quoteValue(value)}`,
});

export const fieldNotFound = (field: string, value: unknown): FieldError => ({
  type: "FieldValueNotFound",
  field,
  detail: `Not found: ${quoteValue(value)}`,
  text: `${field}: Not found: ${quoteValue(value)}`,
});

export const fieldNotSupported = (field: string, value: unknown, allowed: string[]): FieldError => ({
  type: "FieldValueNotSupported",
  field,
  detail: `Unsupported value: ${quoteValue(value)}: supported values: ${allowed.map((a) => `"${a}"`).join(", ")}`,
  text: `${field}: Unsupported value: ${quoteValue(value)}: supported values: ${allowed.map((a) => `"${a}"`).join(", ")}`,
});

export const fieldTooLong = (field: string, maxBytes: number): FieldError => ({
  type: "FieldValueTooLong",
  field,
  detail: `Too long: may not be more than ${maxBytes} bytes`,
  text: `${field}: Too long: may not be more than ${maxBytes} bytes`,
});
