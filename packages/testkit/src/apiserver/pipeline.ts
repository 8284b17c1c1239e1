import type http from "node:http";
import { parse as parseYaml } from "yaml";
import type { PatchType } from "./core.js";
import { checkDecodable, duplicateFields } from "./decoding.js";
import { unknownFields } from "./fields.js";
import { decodeProtobuf } from "./proto.js";
import { queryBool } from "./query.js";
import type { ResourceDef } from "./resources.js";
import { findResource } from "./resources.js";
import { badRequest, fieldNotSupported, invalid, StatusFailure } from "./status.js";
import type { Json } from "./types.js";

/**
 * The request stages of the simulator that need no server state, in the order kube-apiserver's
 * handler chain runs them: routing (RequestInfo: resource, namespace, name, subresource, verb),
 * decoding (JSON, YAML, protobuf; body size limit), and request options with field validation.
 * Authentication, authorization and admission, storage and encoding live in server.ts, which
 * holds the server's state; `handle()` there calls these stages in turn.
 */

const MAX_BODY_BYTES = 3 * 1024 * 1024;

/** Where a resource request goes (from its URL). */
export interface Route {
  def: ResourceDef;
  namespace: string;
  name: string;
  subresource: string;
  watchPrefix: boolean;
}

export function parseResourcePath(parts: string[], group: string, version: string): Route | undefined {
  let watchPrefix = false;
  if (parts[0] === "watch") {
    watchPrefix = true;
    parts = parts.slice(1);
  }
  let namespace = "";
  let rest = parts;
  if (parts[0] === "namespaces" && parts.length >= 3) {
    const nsDef = findResource(group, version, "namespaces");
    if (!(nsDef && parts.length === 3 && nsDef.subresources[parts[2]!])) {
      namespace = parts[1]!;
      rest = parts.slice(2);
    }
  }
  const [plural, name = "", subresource = "", ...extra] = rest;
  if (!plural || extra.length) return undefined;
  // legacy /api/v1/namespaces/{ns}/bindings (create a Binding for a pod)
  if (plural === "bindings" && group === "" && namespace && !name) {
    return { def: findResource("", "v1", "pods")!, namespace, name: "", subresource: "binding", watchPrefix };
  }
  const def = findResource(group, version, plural);
  if (!def) return undefined;
  if (def.namespaced !== (namespace !== "") && !(def.namespaced && namespace === "" && !name))
    return undefined;
  if (!def.namespaced && namespace) return undefined;
  if (subresource && !def.subresources[subresource]) return undefined;
  return { def, namespace, name, subresource, watchPrefix };
}

export function readBody(req: http.IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on("data", (c: Buffer) => {
      size += c.length;
      // keep draining an oversized body so the client reads the 413 instead of a reset
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on("end", () => {
      if (size > MAX_BODY_BYTES)
        reject(
          new StatusFailure(
            413,
            "RequestEntityTooLarge",
            `Request entity too large: limit is ${MAX_BODY_BYTES}`,
          ),
        );
      else resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks));
    });
    req.on("error", reject);
  });
}

const MEDIA_HINT =
  "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf, application/cbor";

export function decodeBody(buf: Buffer, contentType: string, kindHint: string): Json {
  const ct = contentType.split(";")[0]!.trim().toLowerCase();
  const text = buf.toString("utf8");
  if (ct === "application/json" || ct === "" || ct.endsWith("+json")) {
    if (!text.trim()) throw badRequest(`Object 'Kind' is missing in ''`);
    try {
      return JSON.parse(text);
    } catch (e) {
      throw badRequest(
        `the object provided is unrecognized (must be of type ${kindHint}): couldn't get version/kind; json parse error: ${(e as Error).message}`,
      );
    }
  }
  if (ct === "application/yaml" || ct.endsWith("+yaml")) {
    try {
      return parseYaml(text);
    } catch (e) {
      throw badRequest(
        `the object provided is unrecognized (must be of type ${kindHint}): couldn't get version/kind; yaml parse error: ${(e as Error).message.split("\n")[0]}`,
      );
    }
  }
  if (ct === "application/vnd.kubernetes.protobuf") return decodeProtobuf(buf, kindHint);
  throw new StatusFailure(415, "UnsupportedMediaType", MEDIA_HINT);
}

export function patchTypeOf(contentType: string): PatchType | "apply" {
  const ct = contentType.split(";")[0]!.trim().toLowerCase();
  if (ct === "application/json-patch+json") return "json";
  if (ct === "application/merge-patch+json") return "merge";
  if (ct === "application/strategic-merge-patch+json") return "strategic";
  if (ct === "application/apply-patch+yaml" || ct === "application/apply-patch+cbor") return "apply";
  throw new StatusFailure(
    415,
    "UnsupportedMediaType",
    `the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json`,
  );
}

const METHOD_NOT_ALLOWED = "the server does not allow this method on the requested resource";

/** Routing: the resource route and verb of a request under /api or /apis (404 / 405 otherwise). */
export function resolveRequest(
  method: string,
  segs: string[],
  q: URLSearchParams,
): { route: Route; verb: string } {
  let group = "";
  let version = "";
  let rest: string[];
  if (segs[0] === "api" && segs.length >= 3) {
    version = segs[1]!;
    rest = segs.slice(2);
  } else if (segs[0] === "apis" && segs.length >= 4) {
    group = segs[1]!;
    version = segs[2]!;
    rest = segs.slice(3);
  } else throw new StatusFailure(404, "NotFound", "the server could not find the requested resource", {});
  const route = parseResourcePath(rest, group, version);
  if (!route)
    throw new StatusFailure(404, "NotFound", "the server could not find the requested resource", {});
  const isWatch = route.watchPrefix || queryBool(q, "watch");
  switch (method) {
    case "GET":
      return { route, verb: route.name ? "get" : isWatch ? "watch" : "list" };
    case "POST":
      return { route, verb: "create" };
    case "PUT":
      return { route, verb: "update" };
    case "PATCH":
      return { route, verb: "patch" };
    case "DELETE":
      return { route, verb: route.name ? "delete" : "deletecollection" };
    default:
      throw new StatusFailure(405, "MethodNotAllowed", METHOD_NOT_ALLOWED);
  }
}

/** 405 for a verb the resource (or subresource) does not serve, or a name where none belongs. */
export function checkVerbAllowed(route: Route, verb: string): void {
  const { def, name, subresource } = route;
  const allowed = subresource ? def.subresources[subresource]!.verbs : def.verbs;
  const refused =
    (!allowed.includes(verb) && !(verb === "create" && subresource === "binding" && !name)) ||
    (verb === "create" && name && !subresource) ||
    ((verb === "update" || verb === "patch" || verb === "get" || verb === "delete") && !name);
  if (refused) throw new StatusFailure(405, "MethodNotAllowed", METHOD_NOT_ALLOWED, {});
}

/**
 * Decoding: the request body as the object JSON would give, and its text when it was JSON (its
 * duplicate keys are a strict decoding error). Apply patches are YAML, other patches JSON.
 */
export async function decodeRequestBody(
  req: http.IncomingMessage,
  method: string,
  route: Route,
  patchType: PatchType | "apply" | undefined,
): Promise<{ body: Json; jsonText: string | undefined }> {
  const { def, subresource } = route;
  const hasBody =
    method === "POST" ||
    method === "PUT" ||
    method === "PATCH" ||
    (method === "DELETE" && Number(req.headers["content-length"] ?? 0) > 0);
  if (!hasBody) return { body: undefined, jsonText: undefined };
  const buf = await readBody(req);
  const ct = req.headers["content-type"] ?? "";
  let body: Json;
  if (method === "PATCH") {
    if (patchType === "apply") body = decodeBody(buf, "application/yaml", def.kind);
    else body = decodeBody(buf, "application/json", def.kind);
  } else if (method === "DELETE")
    body = buf.length ? decodeBody(buf, ct || "application/json", "DeleteOptions") : undefined;
  else body = decodeBody(buf, ct, subresource ? def.subresources[subresource]!.kind : def.kind);
  const bare = ct.split(";")[0]!.trim().toLowerCase();
  const isJson = method !== "DELETE" && patchType !== "apply" && (bare === "" || bare.endsWith("json"));
  return { body, jsonText: isJson ? buf.toString("utf8") : undefined };
}

/**
 * Request options and field validation: `dryRun` may only be "All" (ValidateDryRun of the
 * Create/Update/Patch/DeleteOptions), the decoder's type checks, and `fieldValidation`
 * (server default Warn; kubectl sends Strict): unknown and duplicate fields are a 400 strict
 * decoding error or come back as warnings.
 */
export function checkRequestOptions(
  route: Route,
  verb: string,
  q: URLSearchParams,
  body: Json,
  jsonText: string | undefined,
  patchType: PatchType | "apply" | undefined,
): { dryRun: boolean; warnings: string[] } {
  const { def, subresource } = route;
  const dryRunValues = q.getAll("dryRun");
  const bogus = dryRunValues.find((v) => v !== "All");
  if (bogus !== undefined && verb !== "get" && verb !== "list" && verb !== "watch") {
    const options =
      verb === "create" ? "Create" : verb === "update" ? "Update" : verb === "patch" ? "Patch" : "Delete";
    throw invalid(`${options}Options`, "meta.k8s.io", "", [fieldNotSupported("dryRun", bogus, ["All"])]);
  }
  const dryRun = dryRunValues.includes("All");
  if (body !== undefined && !subresource && (verb === "create" || verb === "update"))
    checkDecodable(def, body);
  const validated =
    body !== undefined &&
    !subresource &&
    (verb === "create" || verb === "update" || (verb === "patch" && patchType !== "json"));
  if (!validated) return { dryRun, warnings: [] };
  const mode = q.get("fieldValidation") ?? "Warn";
  if (mode !== "Strict" && mode !== "Warn" && mode !== "Ignore")
    throw badRequest(`fieldValidation: Invalid value: "${mode}": must be one of Ignore, Warn, or Strict`);
  const problems =
    mode === "Ignore"
      ? []
      : [
          ...unknownFields(def, body).map((f) => `unknown field "${f}"`),
          ...(jsonText === undefined ? [] : duplicateFields(jsonText).map((f) => `duplicate field "${f}"`)),
        ];
  if (problems.length && mode === "Strict")
    throw badRequest(
      `${def.kind} in version "${def.version}" cannot be handled as a ${def.kind}: strict decoding error: ${problems.join(", ")}`,
    );
  return { dryRun, warnings: problems };
}
