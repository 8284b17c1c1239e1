import { createHash } from "node:crypto";
import type http from "node:http";
import { groupVersionPaths } from "./discovery.js";
import { encodeSwagger } from "./openapi-proto.js";
import {
  buildDefinitions,
  classOfKind,
  kindDefinitionName,
  loadGraph,
  type ModelGraph,
  type RootKind,
} from "./openapi-schemas.js";
import { RESOURCES, type ResourceDef } from "./resources.js";
import { StatusFailure } from "./status.js";
import type { Json } from "./types.js";

/**
 * The OpenAPI documents kube-apiserver serves: /openapi/v2 (Swagger 2.0, every definition) and
 * /openapi/v3 (an index with one document per group/version, each holding the schemas its paths
 * reach). The schemas are built from @kubernetes/client-node's models (openapi-schemas.ts) on the
 * first /openapi request and kept for the life of the process, so starting a server costs nothing.
 */

const gvPathOf = (r: ResourceDef): string => (r.group ? `apis/${r.group}/${r.version}` : `api/${r.version}`);
const INFO = { title: "Kubernetes", version: "v1.32.0" };

/**
 * The kinds a group/version document describes, as kube-apiserver's do: each served kind, its List,
 * and the kinds its subresources take (Scale, Eviction, Binding, TokenRequest), each with its GVK.
 */
async function rootsOf(rs: readonly ResourceDef[]): Promise<RootKind[]> {
  const wanted = new Map<string, { group: string; version: string; kind: string }>();
  const add = (group: string, version: string, kind: string): void => {
    wanted.set(`${group}/${version}/${kind}`, { group, version, kind });
  };
  for (const r of rs) {
    add(r.group, r.version, r.kind);
    if (r.verbs.includes("list")) add(r.group, r.version, `${r.kind}List`);
    // connect options (PodExecOptions, NodeProxyOptions) are query parameters, not bodies
    for (const sub of Object.values(r.subresources))
      if (!sub.kind.endsWith("Options")) add(sub.group ?? r.group, sub.version ?? r.version, sub.kind);
  }
  const roots: RootKind[] = [];
  for (const k of wanted.values()) {
    const className = await classOfKind(k.group, k.version, k.kind);
    if (className !== undefined) roots.push({ className, ...k });
  }
  return roots;
}

interface Documents {
  roots: RootKind[];
  graph: ModelGraph;
  v3Index: string;
  v3: ReadonlyMap<string, { body: string; hash: string }>;
}

/** `build` once per process, on the first call; a failure is not kept: the next call builds again. */
function lazily<T>(build: () => Promise<T>): () => Promise<T> {
  let built: Promise<T> | undefined;
  return () =>
    (built ??= build().catch((e: unknown) => {
      built = undefined;
      throw e;
    }));
}

async function build(): Promise<Documents> {
  const byGv = new Map<string, ResourceDef[]>();
  for (const r of RESOURCES) byGv.set(gvPathOf(r), [...(byGv.get(gvPathOf(r)) ?? []), r]);
  const rootsByGv = new Map<string, RootKind[]>();
  for (const [gv, rs] of byGv) rootsByGv.set(gv, await rootsOf(rs));
  const roots = [...rootsByGv.values()].flat();
  // one graph for all documents: a type is named the same in every document it appears in
  const graph = await loadGraph(roots);
  const v3 = new Map<string, { body: string; hash: string }>();
  const index: Record<string, Json> = {};
  for (const gv of groupVersionPaths()) {
    const rs = byGv.get(gv);
    if (!rs) continue;
    const body = JSON.stringify({
      openapi: "3.0.0",
      info: INFO,
      paths: pathsFor(rs),
      components: {
        schemas: {
          ...buildDefinitions(graph, rootsByGv.get(gv)!, "v3"),
          [PATCH]: { description: "The body of a PATCH request, in one of the patch types.", type: "object" },
        },
      },
    });
    // kube-apiserver names each document by a hash of its content (upper-case hex SHA-512), so
    // clients cache a document until the index points them at a new one
    const hash = createHash("sha512").update(body).digest("hex").toUpperCase();
    v3.set(gv, { body, hash });
    index[gv] = { serverRelativeURL: `/openapi/v3/${gv}?hash=${hash}` };
  }
  return { roots, graph, v3Index: JSON.stringify({ paths: index }), v3 };
}

/** The v3 documents, built on the first call and shared by every server in the process. */
const openApiDocuments = lazily(build);

/** /openapi/v3/<group-version path> document (JSON text), or undefined when not served. */
export async function openApiV3Doc(gvPath: string): Promise<{ body: string; hash: string } | undefined> {
  return (await openApiDocuments()).v3.get(gvPath);
}

/** /openapi/v3 discovery index (JSON text). */
export async function openApiV3Index(): Promise<string> {
  return (await openApiDocuments()).v3Index;
}

/** /openapi/v2 (Swagger 2.0, JSON text) with the same definitions as v3, for clients that read v2. */
export const openApiV2: () => Promise<string> = lazily(async () => {
  const { graph, roots } = await openApiDocuments();
  return JSON.stringify({
    swagger: "2.0",
    info: INFO,
    paths: {},
    definitions: buildDefinitions(graph, roots, "v2"),
  });
});

const QUERY = (name: string, description: string): Json => ({
  name,
  in: "query",
  description,
  schema: { type: "string", uniqueItems: true },
});

const PATCH = "io.k8s.apimachinery.pkg.apis.meta.v1.Patch";
/**
 * The body of a PATCH: one entry per patch type the server accepts. kubectl apply looks for
 * strategic-merge-patch+json here before it computes a patch from the v3 schema.
 */
const PATCH_BODY: Json = {
  content: Object.fromEntries(
    [
      "application/apply-patch+yaml",
      "application/json-patch+json",
      "application/merge-patch+json",
      "application/strategic-merge-patch+json",
    ].map((type) => [type, { schema: { $ref: `#/components/schemas/${PATCH}` } }]),
  ),
  required: true,
};

function pathsFor(rs: ResourceDef[]): Json {
  const paths: Json = {};
  for (const r of rs) {
    const prefix = r.group ? `/apis/${r.group}/${r.version}` : `/api/${r.version}`;
    const ns = r.namespaced ? "/namespaces/{namespace}" : "";
    const gvk = { group: r.group, version: r.version, kind: r.kind };
    const ref = { $ref: `#/components/schemas/${kindDefinitionName(r)}` };
    const op = (action: string, extra: Json[] = [], requestBody?: Json): Json => ({
      description: `${action} ${r.kind}`,
      operationId: `${action}${r.kind}`,
      parameters: [
        QUERY("dryRun", "When present, indicates that modifications should not be persisted."),
        QUERY(
          "fieldManager",
          "fieldManager is a name associated with the actor or entity that is making these changes.",
        ),
        ...extra,
      ],
      ...(requestBody ? { requestBody } : {}),
      responses: { "200": { description: "OK", content: { "application/json": { schema: ref } } } },
      "x-kubernetes-action": action,
      "x-kubernetes-group-version-kind": gvk,
    });
    const objectBody = { content: { "*/*": { schema: ref } }, required: true };
    const fv = QUERY(
      "fieldValidation",
      "fieldValidation instructs the server on how to handle objects in the request containing unknown or duplicate fields.",
    );
    if (r.verbs.includes("list") || r.verbs.includes("create"))
      paths[`${prefix}${ns}/${r.plural}`] = {
        ...(r.verbs.includes("list") ? { get: op("list") } : {}),
        ...(r.verbs.includes("create") ? { post: op("post", [fv], objectBody) } : {}),
      };
    if (r.verbs.includes("get"))
      paths[`${prefix}${ns}/${r.plural}/{name}`] = {
        get: op("get"),
        put: op("put", [fv], objectBody),
        patch: op("patch", [fv, QUERY("force", "Force is going to force Apply requests.")], PATCH_BODY),
        delete: op("delete"),
      };
    for (const sub of Object.keys(r.subresources))
      if (sub === "status")
        paths[`${prefix}${ns}/${r.plural}/{name}/status`] = {
          get: op("get"),
          put: op("put", [fv], objectBody),
          patch: op("patch", [fv], PATCH_BODY),
        };
  }
  return paths;
}

/**
 * /openapi/v2 as the protobuf kubectl asks for (gnostic openapi_v2.Document): the same definitions
 * as the JSON form, which kubectl reads for `explain -o plaintext-openapiv2`, for apply when it
 * cannot use v3, and for client-side validation against servers without field validation.
 */
const openApiV2Protobuf: () => Promise<Buffer> = lazily(async () =>
  encodeSwagger(JSON.parse(await openApiV2())),
);

/**
 * Answers GET /openapi/v2 (JSON, or protobuf when the client accepts it) and
 * /openapi/v3[/<group-version>], or returns false for other
 * paths. Like kube-openapi's v3 handler, a group/version document carries its hash as an ETag
 * (If-None-Match gets 304); asked for by its current `?hash=` it is immutable, and asked for by a
 * stale hash it redirects (301) to the current one.
 */
export async function serveOpenApi(
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
): Promise<boolean> {
  const path = url.pathname.replace(/\/+$/, "");
  const json = (body: string, headers: Record<string, string> = {}): true => {
    res.writeHead(200, {
      "Content-Type": "application/json",
      "Content-Length": Buffer.byteLength(body),
      "Cache-Control": "no-cache, private",
      ...headers,
    });
    res.end(body);
    return true;
  };
  if (path === "/openapi/v2" && req.headers.accept?.includes("protobuf")) {
    const pb = await openApiV2Protobuf();
    res.writeHead(200, {
      "Content-Type": "application/com.github.proto-openapi.spec.v2.v1.0+protobuf",
      "Content-Length": pb.length,
    });
    res.end(pb);
    return true;
  }
  if (path === "/openapi/v2") return json(await openApiV2());
  if (path === "/openapi/v3") return json(await openApiV3Index());
  if (!path.startsWith("/openapi/v3/")) return false;
  const doc = await openApiV3Doc(decodeURIComponent(path.slice("/openapi/v3/".length)));
  if (!doc) throw new StatusFailure(404, "NotFound", "the server could not find the requested resource", {});
  const etag = `"${doc.hash}"`;
  const hash = url.searchParams.get("hash");
  if (hash !== null && hash !== doc.hash) {
    res.writeHead(301, { Location: `${path}?hash=${doc.hash}`, "Content-Length": 0 });
    res.end();
    return true;
  }
  const cache: Record<string, string> =
    hash === null ? {} : { "Cache-Control": "public, immutable", Vary: "Accept" };
  if (req.headers["if-none-match"] === etag) {
    res.writeHead(304, { ETag: etag, ...cache });
    res.end();
    return true;
  }
  return json(doc.body, { ETag: etag, ...cache });
}
