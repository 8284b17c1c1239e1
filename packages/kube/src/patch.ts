import type { Backoff } from "./backoff.js";
import { createBackoff } from "./backoff.js";
import type { KubeClient } from "./client.js";
import type { Clock } from "./clock.js";
import { createRealClock } from "./clock.js";
import { KubeError } from "./errors.js";

/**
 * Content types of the API server's patch flavours. Sending a merge-shaped body with the wrong
 * type is rejected by a real server, so always pick one of these explicitly.
 */
export const PatchType = {
  /** Strategic merge patch: lists with a merge key (conditions by `type`) are merged, not replaced. */
  StrategicMerge: "application/strategic-merge-patch+json",
  /** RFC 7386 JSON merge patch: lists are replaced whole, `null` deletes a key. */
  Merge: "application/merge-patch+json",
  /** RFC 6902 JSON patch: a list of operations. */
  Json: "application/json-patch+json",
} as const;
/** One of {@link PatchType}. */
export type PatchContentType = (typeof PatchType)[keyof typeof PatchType];

/** One RFC 6902 operation. */
export interface JsonPatchOperation {
  op: "add" | "remove" | "replace" | "move" | "copy" | "test";
  path: string;
  value?: unknown;
  from?: string;
}

/** Options shared by the patch helpers. */
export interface PatchOptions {
  fieldManager?: string | undefined;
  signal?: AbortSignal | undefined;
}

/** Sends a patch of the given type to `path` (e.g. `/api/v1/nodes/a/status`). */
export function patchObject<T = unknown>(
  client: KubeClient,
  path: string,
  type: PatchContentType,
  body: unknown,
  options: PatchOptions = {},
): Promise<T> {
  if (type === PatchType.Json && !Array.isArray(body)) {
    throw new KubeError("InvalidArgument", `a JSON patch for ${path} must be a list of operations`);
  }
  if (type !== PatchType.Json && (body === null || typeof body !== "object" || Array.isArray(body))) {
    throw new KubeError("InvalidArgument", `a merge or strategic merge patch for ${path} must be an object`);
  }
  return client.request<T>({
    method: "PATCH",
    path,
    body,
    contentType: type,
    ...(options.fieldManager ? { query: { fieldManager: options.fieldManager } } : {}),
    signal: options.signal,
  });
}

/** Strategic merge patch (the kubelet's choice for node and pod status). */
export function strategicMergePatch<T = unknown>(
  client: KubeClient,
  path: string,
  body: object,
  options?: PatchOptions,
) {
  return patchObject<T>(client, path, PatchType.StrategicMerge, body, options);
}

/** JSON merge patch. */
export function mergePatch<T = unknown>(
  client: KubeClient,
  path: string,
  body: object,
  options?: PatchOptions,
) {
  return patchObject<T>(client, path, PatchType.Merge, body, options);
}

/** JSON patch (RFC 6902). */
export function jsonPatch<T = unknown>(
  client: KubeClient,
  path: string,
  operations: JsonPatchOperation[],
  options?: PatchOptions,
) {
  return patchObject<T>(client, path, PatchType.Json, operations, options);
}

/** Options of {@link retryOnConflict}. */
export interface RetryOnConflictOptions {
  /** Attempts in total; default 5 (client-go's `retry.DefaultRetry`). */
  steps?: number | undefined;
  /** Wait between attempts; default 10 ms with 10% jitter, like `retry.DefaultRetry`. */
  backoff?: Backoff | undefined;
  clock?: Clock | undefined;
  signal?: AbortSignal | undefined;
}

/**
 * Runs `fn` and re-runs it when it fails with a 409 Conflict, so a read-modify-write can re-read
 * and try again (mirrors client-go's `retry.RetryOnConflict`). Other errors are thrown at once.
 */
export async function retryOnConflict<T>(
  fn: (attempt: number) => Promise<T>,
  options: RetryOnConflictOptions = {},
): Promise<T> {
  const steps = options.steps ?? 5;
  if (!Number.isInteger(steps) || steps < 1)
    throw new KubeError("InvalidArgument", `retryOnConflict: steps must be a positive integer, got ${steps}`);
  const backoff = options.backoff ?? createBackoff({ initialMs: 10, maxMs: 10, factor: 1, jitter: 0.1 });
  const clock = options.clock ?? createRealClock();
  for (let attempt = 1; ; attempt++) {
    try {
      return await fn(attempt);
    } catch (err) {
      const k = KubeError.from(err);
      if (k.code !== "Conflict" || attempt >= steps) throw k;
      await clock.sleep(backoff.next(), options.signal);
    }
  }
}
