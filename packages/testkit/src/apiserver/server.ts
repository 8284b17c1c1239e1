import { rm, writeFile } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import type { AddressInfo, Socket } from "node:net";
import { join } from "node:path";
import type { TLSSocket } from "node:tls";
import { TestkitError } from "../env/errors.js";
import { instanceDir } from "../env/paths.js";
import { admitNodeRequest, admitNodeUpdate } from "./admission.js";
import {
  authenticateBootstrapToken,
  authorize,
  forbiddenMessage,
  identityUser,
  type RequestAttributes,
  TokenAuthority,
} from "./auth.js";
import { type CertPair, createServerPki, type ServerPki } from "./certs.js";
import { type ControllerSet, startControllers } from "./controllers/index.js";
import {
  type Admit,
  type AllocationOptions,
  type ApiClock,
  ApiCore,
  bareJson,
  type PatchType,
  wireJson,
} from "./core.js";
import { apiGroup, apiGroupList, apiResourceList, apiVersions, SERVER_VERSION } from "./discovery.js";
import { ImpersonationError, impersonate, impersonationErrorBody } from "./impersonation.js";
import {
  type KubeletClientCert,
  type KubeletDialer,
  kubeletLocation,
  nodeProxyLocation,
  proxyGet,
  proxyRequest,
  proxyUpgrade,
} from "./kubelet-proxy.js";
import { serveOpenApi } from "./openapi.js";
import {
  checkRequestOptions,
  checkVerbAllowed,
  decodeRequestBody,
  parseResourcePath,
  patchTypeOf,
  resolveRequest,
} from "./pipeline.js";
import { queryBool } from "./query.js";
import { findResource, type ResourceDef } from "./resources.js";
import { type Matcher, parseFieldSelector, parseLabelSelector } from "./selectors.js";
import { badRequest, fieldRequired, forbidden, invalid, StatusFailure } from "./status.js";
import { type ApiStorage, createMemoryStorage, type StorageEvent } from "./storage.js";
import { handleSubresource, handleVirtualCreate } from "./subresources.js";
import { toTable, wantsTable } from "./table.js";
import type { Json, KubeObject, UserInfo } from "./types.js";

/** Which dev controllers run (all default true). */
export interface ControllerOptions {
  /** Binds pending pods to a Ready, untainted (or tolerated), fitting node honouring nodeSelector. */
  scheduler?: boolean;
  /** Maintains EndpointSlices for Services with selectors. */
  endpointSlices?: boolean;
  /** Marks nodes whose lease expired Ready=Unknown with unreachable taints; evicts their pods. */
  nodeLifecycle?: boolean;
  /** Finishes namespace deletion and creates each namespace's `default` ServiceAccount. */
  namespaces?: boolean;
  /** apps/v1 Deployment and ReplicaSet controllers (rollouts, scaling, revisions). */
  deployments?: boolean;
  /** apps/v1 DaemonSet controller (one pod per eligible node, rolling updates). */
  daemonSets?: boolean;
  /** apps/v1 StatefulSet controller (ordered pods `<name>-<ordinal>`, rolling updates). */
  statefulSets?: boolean;
  /** batch/v1 Job controller (completions, parallelism, backoffLimit, conditions). */
  jobs?: boolean;
  /** batch/v1 CronJob controller (Jobs on a cron schedule, on the server's clock). */
  cronJobs?: boolean;
  /** CertificateSigningRequest approver (kubelet client certificates) and signer (needs TLS). */
  certificates?: boolean;
}

/** Options of {@link startApiServer}. */
export interface ApiServerOptions extends AllocationOptions {
  /** TCP port on 127.0.0.1; 0 (default) picks a free one. */
  port?: number;
  /**
   * Where pods/log, exec, attach and portforward connect for a node's kubelet. Default: the node's
   * address when it is a loopback address, else the request fails (500, "error dialing backend")
   * rather than leave the host for an address that only exists in a test's network namespace.
   */
  kubeletDialer?: KubeletDialer;
  /**
   * Serve HTTPS with a generated CA and client certificates (default true). false serves plain HTTP:
   * bearer tokens still authenticate, and requests without credentials get full access (like the
   * former insecure port), because client-go (kubectl) does not send tokens over plain HTTP.
   */
  tls?: boolean;
  controllers?: ControllerOptions;
  /** Storage backend; default in-memory. */
  storage?: ApiStorage;
  /**
   * Capacity of the watch cache window per resource when using the default storage (default
   * 5000 events): a watch resuming from a resourceVersion older than the window gets a 410
   * Expired ERROR event, like kube-apiserver's watch cache. The window starts when the server
   * starts (bootstrap objects included), so resourceVersions from before are too old.
   */
  watchHistoryPerResource?: number;
  /** Interval of BOOKMARK events on watches that allow them (default 60 000 ms, like upstream's ~1 min). */
  bookmarkIntervalMs?: number;
  /** Wall clock for timestamps and the node lifecycle controller. Default Date.now. */
  clock?: ApiClock;
  /** Node monitor grace period (lease age after which a node is Unknown), default 40 s like kube-controller-manager 1.32. */
  nodeMonitorGracePeriodSeconds?: number;
  /** How often controllers resync, default 1000 ms. */
  controllerSyncIntervalMs?: number;
  /** Called for every API request after it completed (for counting in tests). */
  onRequest?: (record: RequestRecord) => void;
  /** Maximum number of entries kept in `requests` (oldest dropped), default 100 000. */
  maxRequestRecords?: number;
  /** Directory for kubeconfig files; default a fresh temp dir removed on stop(). */
  dir?: string;
}

/** One served request, as recorded in {@link ApiServer.requests}. */
export interface RequestRecord {
  method: string;
  path: string;
  verb: string;
  group: string;
  resource: string;
  subresource: string;
  namespace: string;
  name: string;
  user: string;
  code: number;
  /** Patch content type short name for PATCH requests. */
  patchType?: PatchType | "apply";
  durationMs: number;
}

/** A fault to inject: the next `times` matching requests fail with `status`. */
export interface FaultSpec {
  verb: "update" | "patch" | "create" | "get" | "list" | "delete" | "watch";
  resource: string;
  subresource?: string;
  namespace?: string;
  name?: string;
  status: 409 | 500 | 503 | 429;
  times: number;
}

/** A running simulator. */
export interface ApiServer {
  /** Base URL, e.g. `https://127.0.0.1:PORT`. */
  readonly url: string;
  readonly port: number;
  /** Kubeconfig file of the admin identity (system:masters). */
  readonly kubeconfigPath: string;
  /** PEM of the CA that signed the serving and client certificates (undefined without TLS). */
  readonly caPem: string | undefined;
  /** Writes (once) and returns the path of a kubeconfig for an identity, e.g. `system:node:node-a`. */
  kubeconfigFor(identity: string, groups?: readonly string[]): Promise<string>;
  /** Kubeconfig text for an identity (admin by default); uses a bearer token if no certificate was issued yet. */
  kubeconfigText(identity?: string): string;
  /** A bearer token authenticating as the identity. */
  tokenFor(identity: string, groups?: readonly string[]): string;
  /** Stops accepting connections and drops open ones (watches end); data is kept. */
  suspend(): Promise<void>;
  /** Listens again on the same port with the same data. */
  resume(): Promise<void>;
  /** Makes the next `times` matching requests fail with a proper Status body. */
  injectFault(fault: FaultSpec): void;
  /**
   * Moves the watch cache window of a resource (plural, e.g. `pods`, with `group` for grouped
   * resources; all resources when omitted) to the current resourceVersion and ends its open
   * watches: clients that re-watch from their last resourceVersion get 410 Expired and must
   * relist, as after an etcd compaction. Returns the new window start.
   */
  expireWatchHistory(resource?: { resource: string; group?: string }): number;
  /** Requests served so far (mutable: tests may clear it with `requests.length = 0`). */
  readonly requests: RequestRecord[];
  /** The resource semantics layer, for in-process seeding without HTTP. */
  readonly core: ApiCore;
  readonly storage: ApiStorage;
  /** Runs one sync pass of every enabled controller now (tests that step the clock call this). */
  syncControllers(): Promise<void>;
  stop(): Promise<void>;
}

function send(res: http.ServerResponse, code: number, body: string, contentType = "application/json"): void {
  if (res.headersSent) {
    res.end();
    return;
  }
  res.writeHead(code, {
    "Content-Type": contentType,
    "Content-Length": Buffer.byteLength(body),
    "Cache-Control": "no-cache, private",
  });
  res.end(body);
}

function sendStatus(res: http.ServerResponse, failure: StatusFailure): void {
  if (failure.code === 429 || failure.code === 503) res.setHeader("Retry-After", "1");
  send(res, failure.code, JSON.stringify(failure.toStatus()));
}

function parseDeleteOptions(body: Json, q: URLSearchParams): Json {
  const o: Json = body && typeof body === "object" ? { ...body } : {};
  if (q.has("gracePeriodSeconds")) o.gracePeriodSeconds = Number(q.get("gracePeriodSeconds"));
  if (q.has("propagationPolicy")) o.propagationPolicy = q.get("propagationPolicy");
  if (queryBool(q, "orphanDependents") || o.orphanDependents === true) o.propagationPolicy ??= "Orphan";
  if (q.get("dryRun") === "All" || (Array.isArray(o.dryRun) && o.dryRun.includes("All"))) o.dryRun = true;
  else delete o.dryRun;
  return o;
}

function encodeContinue(rv: number, start: string): string {
  return Buffer.from(JSON.stringify({ v: "meta.k8s.io/v1", rv, start })).toString("base64url");
}

function decodeContinue(token: string): { rv: number; start: string } {
  try {
    const j = JSON.parse(Buffer.from(token, "base64url").toString());
    if (j.v !== "meta.k8s.io/v1" || typeof j.rv !== "number" || typeof j.start !== "string")
      throw new Error("bad");
    return { rv: j.rv, start: j.start };
  } catch {
    throw badRequest(
      `continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)`,
    );
  }
}

const objKey = (o: KubeObject): string => `${o.metadata.namespace ?? ""}/${o.metadata.name}`;

/**
 * Starts a Kubernetes API server simulator on 127.0.0.1 that behaves like kube-apiserver on the
 * wire, so @kubernetes/client-node and kubectl work against it unmodified. Generates a CA, a
 * serving certificate and an admin client certificate (kubeconfig at `kubeconfigPath`), creates
 * the bootstrap namespaces and the `kubernetes` Service, and starts the dev controllers.
 * Call `stop()` to close every connection and remove the temporary files.
 *
 * @example
 * const server = await startApiServer();
 * const kc = new KubeConfig();
 * kc.loadFromFile(server.kubeconfigPath);
 */
export async function startApiServer(options: ApiServerOptions = {}): Promise<ApiServer> {
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535)
    throw new TestkitError(
      "InvalidArgument",
      `startApiServer: port must be an integer 0-65535, got ${String(port)}`,
    );
  const useTls = options.tls ?? true;
  const clock: ApiClock = options.clock ?? { now: () => Date.now() };
  const storage =
    options.storage ?? createMemoryStorage({ historyPerResource: options.watchHistoryPerResource ?? 5000 });
  let core: ApiCore;
  try {
    core = new ApiCore(storage, clock, options);
  } catch (e) {
    throw new TestkitError("InvalidArgument", `startApiServer: ${(e as Error).message}`, { cause: e });
  }
  const bookmarkMs = options.bookmarkIntervalMs ?? 60_000;
  const dir = options.dir ?? (await instanceDir("apiserver"));
  const ownDir = options.dir === undefined;
  const pki: ServerPki | undefined = useTls ? createServerPki() : undefined;
  const tokens = new TokenAuthority("https://kubernetes.default.svc.cluster.local");
  // the identity presented to kubelets for logs/exec (kubeadm: apiserver-kubelet-client, system:masters)
  const kubeletClient: KubeletClientCert | undefined = pki?.issueClient("kube-apiserver-kubelet-client", [
    "system:masters",
  ]);
  const clientCerts = new Map<string, CertPair>();
  const requests: RequestRecord[] = [];
  const maxRecords = options.maxRequestRecords ?? 100_000;
  const faults: (FaultSpec & { left: number })[] = [];
  const sockets = new Set<Socket>();
  /** Open watches: close function -> storage key of the watched resource. */
  const watches = new Map<() => void, string>();
  const userCache = new WeakMap<Socket, UserInfo | null>();

  const handler = (req: http.IncomingMessage, res: http.ServerResponse): void => {
    void handle(req, res).catch((e) => {
      const f =
        e instanceof StatusFailure
          ? e
          : new StatusFailure(
              500,
              "InternalError",
              `Internal error occurred: ${(e as Error)?.message ?? String(e)}`,
            );
      sendStatus(res, f);
    });
  };
  const server = pki
    ? https.createServer(
        {
          key: pki.serving.keyPem,
          cert: pki.serving.certPem,
          ca: pki.ca.certPem,
          requestCert: true,
          rejectUnauthorized: false,
        },
        handler,
      )
    : http.createServer(handler);
  // idle keep-alive connections are closed after 5 s: client-node 2.0 opens a new connection per request
  server.keepAliveTimeout = 5_000;
  server.on(pki ? "secureConnection" : "connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("clientError", (_e, s) => s.destroy());
  // exec / attach / portforward arrive as upgrade requests (WebSocket or SPDY) and are piped to the kubelet
  server.on("upgrade", (req: http.IncomingMessage, socket: Socket, head: Buffer) => {
    const reject = (f: StatusFailure): void => {
      const body = JSON.stringify(f.toStatus());
      socket.end(
        `HTTP/1.1 ${f.code} ${http.STATUS_CODES[f.code] ?? ""}\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`,
      );
    };
    try {
      const authenticated = authenticate(req);
      if (!authenticated) throw new StatusFailure(401, "Unauthorized", "Unauthorized");
      const user = impersonate(req.headers, req.headersDistinct, authenticated, core);
      const url = new URL(req.url ?? "/", "http://x");
      const segs = url.pathname.split("/").filter(Boolean).map(decodeURIComponent);
      const route =
        segs[0] === "api" && segs[1] === "v1" ? parseResourcePath(segs.slice(2), "", "v1") : undefined;
      if (route?.def.plural !== "pods" || !["exec", "attach", "portforward"].includes(route.subresource))
        throw new StatusFailure(404, "NotFound", "the server could not find the requested resource", {});
      const attrs: RequestAttributes = {
        user,
        verb: "create",
        group: "",
        resource: "pods",
        subresource: route.subresource,
        namespace: route.namespace,
        name: route.name,
      };
      // authorization (node authorizer, built-in rules, RBAC), then admission (NodeRestriction)
      const denied = authorize(attrs, core);
      if (denied !== undefined) throw forbidden("pods", "", route.name, forbiddenMessage(attrs, denied));
      const target = kubeletLocation(
        core,
        route.namespace,
        route.name,
        route.subresource,
        url.searchParams,
        options.kubeletDialer,
      );
      record({
        method: req.method ?? "GET",
        path: url.pathname,
        verb: "create",
        group: "",
        resource: "pods",
        subresource: route.subresource,
        namespace: route.namespace,
        name: route.name,
        user: user.username,
        code: 101,
        durationMs: 0,
      });
      proxyUpgrade(target, kubeletClient, req, socket, head);
    } catch (e) {
      reject(
        e instanceof StatusFailure
          ? e
          : new StatusFailure(500, "InternalError", `Internal error occurred: ${(e as Error).message}`),
      );
    }
  });

  const authenticate = (req: http.IncomingMessage): UserInfo | undefined => {
    const auth = req.headers.authorization;
    if (auth?.startsWith("Bearer ")) {
      const token = auth.slice(7).trim();
      return (
        tokens.authenticate(token, clock.now())?.user ?? authenticateBootstrapToken(token, core, clock.now())
      );
    }
    if (pki) {
      const sock = req.socket as TLSSocket;
      const cached = userCache.get(sock);
      if (cached !== undefined) return cached ?? undefined;
      let user: UserInfo | null = null;
      if (sock.authorized) {
        const cert = sock.getPeerCertificate();
        const cn = cert?.subject?.CN;
        if (cn) {
          const o = cert.subject.O;
          const groups = o === undefined ? [] : Array.isArray(o) ? o : [o];
          user = { username: Array.isArray(cn) ? cn[0]! : cn, groups: [...groups, "system:authenticated"] };
        }
      }
      userCache.set(sock, user);
      return user ?? undefined;
    }
    // plain HTTP without credentials acts like kube-apiserver's former insecure port (full access):
    // client-go does not send bearer tokens over http, so kubectl could not authenticate otherwise
    return identityUser("admin");
  };

  const record = (rec: RequestRecord): void => {
    requests.push(rec);
    // trim in batches: splicing one entry per request off a large array costs a full copy each time
    if (requests.length > maxRecords + Math.max(16, maxRecords >> 4))
      requests.splice(0, requests.length - maxRecords);
    options.onRequest?.(rec);
  };

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const started = performance.now();
    const url = new URL(req.url ?? "/", "http://x");
    const path = url.pathname.replace(/\/+$/, "") || "/";
    const method = req.method ?? "GET";
    const rec: RequestRecord = {
      method,
      path,
      verb: "",
      group: "",
      resource: "",
      subresource: "",
      namespace: "",
      name: "",
      user: "",
      code: 200,
      durationMs: 0,
    };
    const finish = (code: number): void => {
      rec.code = code;
      rec.durationMs = performance.now() - started;
      record(rec);
    };
    if (path === "/healthz" || path === "/livez" || path === "/readyz") {
      send(res, 200, "ok", "text/plain; charset=utf-8");
      return;
    }
    if (path === "/version") {
      send(res, 200, JSON.stringify(SERVER_VERSION));
      return;
    }
    // the request pipeline, in kube-apiserver's order: authentication and impersonation, routing
    // (pipeline.ts), decoding, authorization, admission, request options and field validation,
    // then storage and encoding per verb; every failure is one Status response
    const authenticated = authenticate(req);
    if (!authenticated) {
      const f = new StatusFailure(401, "Unauthorized", "Unauthorized");
      sendStatus(res, f);
      finish(401);
      return;
    }
    let user: UserInfo;
    try {
      user = impersonate(req.headers, req.headersDistinct, authenticated, core);
    } catch (e) {
      if (e instanceof ImpersonationError) {
        send(res, 500, impersonationErrorBody(req.url ?? "/", e), "text/plain; charset=utf-8");
        finish(500);
        return;
      }
      if (!(e instanceof StatusFailure)) throw e;
      rec.user = authenticated.username;
      sendStatus(res, e);
      finish(e.code);
      return;
    }
    rec.user = user.username;
    try {
      const segs = path.split("/").filter(Boolean).map(decodeURIComponent);
      if (method === "GET" && segs[0] === "openapi" && (await serveOpenApi(req, res, url))) return;
      if (method === "GET") {
        const doc = discovery(segs, req.headers.host ?? "");
        if (doc !== undefined) {
          send(res, 200, typeof doc === "string" ? doc : JSON.stringify(doc));
          return;
        }
      }
      const nodeProxy = /^\/api\/v1\/nodes\/([^/]+)\/proxy(\/.*)?$/.exec(url.pathname);
      if (nodeProxy) {
        await serveNodeProxy(
          req,
          res,
          rec,
          user,
          decodeURIComponent(nodeProxy[1]!),
          nodeProxy[2] ?? "/",
          url,
        );
        return;
      }
      // routing: resource, namespace, name, subresource and the verb of the request
      const { route, verb } = resolveRequest(method, segs, url.searchParams);
      const { def, namespace, name, subresource } = route;
      const q = url.searchParams;
      Object.assign(rec, { verb, group: def.group, resource: def.plural, subresource, namespace, name });
      checkVerbAllowed(route, verb);
      if (method === "PATCH") rec.patchType = patchTypeOf(req.headers["content-type"] ?? "");
      // faults come before authorization so tests can simulate an overloaded or flaky server
      const fault = faults.find(
        (f) =>
          f.left > 0 &&
          f.verb === verb &&
          f.resource === def.plural &&
          (f.subresource === undefined || f.subresource === subresource) &&
          (f.namespace === undefined || f.namespace === namespace) &&
          (f.name === undefined || f.name === name),
      );
      if (fault) {
        fault.left -= 1;
        throw faultFailure(fault, def, name);
      }
      // decoding: JSON, YAML or protobuf into the object JSON would give
      const { body, jsonText } = await decodeRequestBody(req, method, route, rec.patchType);
      const attrs: RequestAttributes = {
        user,
        verb,
        group: def.group,
        resource: def.plural,
        subresource,
        namespace,
        name,
        body,
        fieldSelector: q.get("fieldSelector") ?? "",
      };
      const denied = authorize(attrs, core);
      if (denied !== undefined) throw forbidden(def.plural, def.group, name, forbiddenMessage(attrs, denied));
      // node updates are admitted again once merged
      admitNodeRequest(attrs, core);
      const admit: Admit = (next, cur) => admitNodeUpdate(attrs, next, cur);
      // request options and field validation (dryRun, fieldValidation=Strict|Warn|Ignore)
      const { dryRun, warnings } = checkRequestOptions(route, verb, q, body, jsonText, rec.patchType);
      if (warnings.length)
        res.setHeader(
          "Warning",
          warnings.map((w) => `299 - ${JSON.stringify(w)}`),
        );
      if (!def.stored) {
        const { code, json } = handleVirtualCreate(def, body, user, { core, tokens });
        send(res, code, json);
        finish(code);
        return;
      }
      if (
        subresource === "log" ||
        subresource === "exec" ||
        subresource === "attach" ||
        subresource === "portforward"
      ) {
        if (subresource !== "log") throw badRequest("Upgrade request required");
        const target = kubeletLocation(core, namespace, name, subresource, q, options.kubeletDialer);
        finish(await proxyGet(target, kubeletClient, res));
        return;
      }
      if (subresource === "scale") {
        let scale: Json;
        if (verb === "get") scale = core.getScale(def, namespace, name);
        else if (verb === "update") scale = core.updateScale(def, namespace, name, body, dryRun);
        else if (rec.patchType === "apply")
          throw new StatusFailure(
            415,
            "UnsupportedMediaType",
            "apply patches are not supported on the scale subresource",
          );
        else scale = core.patchScale(def, namespace, name, rec.patchType as PatchType, body, dryRun);
        send(res, 200, JSON.stringify(scale));
        finish(200);
        return;
      }
      if (
        subresource &&
        subresource !== "status" &&
        subresource !== "finalize" &&
        subresource !== "approval"
      ) {
        const { code, json } = handleSubresource(route, body, user, { core, tokens, dryRun });
        send(res, code, json);
        finish(code);
        return;
      }
      switch (verb) {
        case "get": {
          const obj = core.get(def, namespace, name);
          send(
            res,
            200,
            wantsTable(req.headers.accept)
              ? JSON.stringify(toTable(def, [obj], storage.resourceVersion, req.headers.accept))
              : wireJson(def, obj),
          );
          finish(200);
          return;
        }
        case "list": {
          const json = listJson(def, namespace, q, req.headers.accept);
          send(res, 200, json);
          finish(200);
          return;
        }
        case "watch":
          finish(200);
          serveWatch(
            def,
            namespace,
            q,
            req,
            res,
            wantsTable(req.headers.accept) ? req.headers.accept : undefined,
          );
          return;
        case "create": {
          if (rec.patchType) break;
          const obj = core.create(def, namespace, body, { dryRun, user });
          send(res, 201, wireJson(def, obj));
          finish(201);
          return;
        }
        case "update": {
          const { object, created } = core.update(def, namespace, name, body, { subresource, dryRun, admit });
          send(res, created ? 201 : 200, wireJson(def, object));
          finish(created ? 201 : 200);
          return;
        }
        case "patch": {
          let obj: KubeObject;
          if (rec.patchType === "apply") {
            // server-side apply: field ownership in metadata.managedFields, 409 on conflicts
            const manager = q.get("fieldManager");
            if (!manager)
              throw invalid("PatchOptions", "meta.k8s.io", "", [
                fieldRequired("fieldManager", "is required for apply patch"),
              ]);
            const force = ["1", "true"].includes((q.get("force") ?? "").toLowerCase());
            const applied = core.apply(def, namespace, name, body, {
              manager,
              force,
              subresource,
              dryRun,
              admit,
            });
            const code = applied.created ? 201 : 200;
            send(res, code, wireJson(def, applied.object));
            finish(code);
            return;
          } else
            obj = core.patch(def, namespace, name, rec.patchType as PatchType, body, {
              subresource,
              dryRun,
              admit,
            });
          send(res, 200, wireJson(def, obj));
          finish(200);
          return;
        }
        case "delete": {
          const opts = parseDeleteOptions(body, q);
          const { object } = core.delete(def, namespace, name, opts);
          send(res, 200, wireJson(def, object));
          finish(200);
          return;
        }
        case "deletecollection": {
          const opts = parseDeleteOptions(body, q);
          const items = filtered(def, namespace, q);
          const out: string[] = [];
          for (const o of items) {
            try {
              out.push(bareJson(core.delete(def, o.metadata.namespace ?? "", o.metadata.name, opts).object));
            } catch (e) {
              if (!(e instanceof StatusFailure && e.code === 404)) throw e;
            }
          }
          send(
            res,
            200,
            `{"kind":"${def.kind}List","apiVersion":"${def.apiVersion}","metadata":{"resourceVersion":"${storage.resourceVersion}"},"items":[${out.join(",")}]}`,
          );
          finish(200);
          return;
        }
      }
      throw new StatusFailure(
        405,
        "MethodNotAllowed",
        "the server does not allow this method on the requested resource",
        {},
      );
    } catch (e) {
      const f =
        e instanceof StatusFailure
          ? e
          : new StatusFailure(
              500,
              "InternalError",
              `Internal error occurred: ${(e as Error)?.message ?? String(e)}`,
            );
      sendStatus(res, f);
      finish(f.code);
    }
  }

  function faultFailure(f: FaultSpec, def: ResourceDef, name: string): StatusFailure {
    switch (f.status) {
      case 409:
        return new StatusFailure(
          409,
          "Conflict",
          `Operation cannot be fulfilled on ${def.group ? `${def.plural}.${def.group}` : def.plural} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
          {
            name,
            ...(def.group ? { group: def.group } : {}),
            kind: def.plural,
          },
        );
      case 429:
        return new StatusFailure(429, "TooManyRequests", "Too many requests, please try again later.", {
          retryAfterSeconds: 1,
        });
      case 503:
        return new StatusFailure(
          503,
          "ServiceUnavailable",
          "The server is currently unable to handle the request",
          { retryAfterSeconds: 1 },
        );
      default:
        return new StatusFailure(500, "InternalError", "Internal error occurred: injected fault", {});
    }
  }

  /**
   * `/api/v1/nodes/{name}/proxy/{path}`: authorized as the `proxy` subresource of the node with the
   * verb of the HTTP method, then relayed to the node's kubelet with the simulator's kubelet client
   * certificate (kube-apiserver's node proxy uses its kubelet transport for the kubelet port).
   */
  async function serveNodeProxy(
    req: http.IncomingMessage,
    res: http.ServerResponse,
    rec: RequestRecord,
    user: UserInfo,
    name: string,
    path: string,
    url: URL,
  ): Promise<void> {
    const verbs: Record<string, string> = {
      GET: "get",
      HEAD: "get",
      POST: "create",
      PUT: "update",
      PATCH: "patch",
      DELETE: "delete",
    };
    const verb = verbs[req.method ?? "GET"];
    if (!verb)
      throw new StatusFailure(
        405,
        "MethodNotAllowed",
        `the server does not allow this method on the requested resource`,
      );
    Object.assign(rec, { verb, resource: "nodes", subresource: "proxy", name });
    const attrs: RequestAttributes = {
      user,
      verb,
      group: "",
      resource: "nodes",
      subresource: "proxy",
      namespace: "",
      name,
    };
    const denied = authorize(attrs, core);
    if (denied !== undefined) throw forbidden("nodes", "", name, forbiddenMessage(attrs, denied));
    const target = nodeProxyLocation(core, name, path, url.searchParams, options.kubeletDialer);
    const started = performance.now();
    rec.code = await proxyRequest(target, kubeletClient, req, res);
    rec.durationMs = performance.now() - started;
    record(rec);
  }

  function discovery(segs: string[], host: string): Json | undefined {
    const [a, b, c] = segs;
    if (a === "api" && segs.length === 1) return apiVersions(host || `127.0.0.1:${actualPort}`);
    if (a === "api" && segs.length === 2) return apiResourceList("", b!) ?? notFoundDoc();
    if (a === "apis" && segs.length === 1) return apiGroupList();
    if (a === "apis" && segs.length === 2) return apiGroup(b!) ?? notFoundDoc();
    if (a === "apis" && segs.length === 3) return apiResourceList(b!, c!) ?? notFoundDoc();
    return undefined;
  }

  function notFoundDoc(): never {
    throw new StatusFailure(404, "NotFound", "the server could not find the requested resource", {});
  }

  function matchers(def: ResourceDef, q: URLSearchParams): { label?: Matcher; field?: Matcher } {
    const label = parseLabelSelector(q.get("labelSelector") ?? "");
    const field = parseFieldSelector(q.get("fieldSelector") ?? "", def.fieldLabels, def.convert?.field);
    return { ...(label ? { label } : {}), ...(field ? { field } : {}) };
  }

  function filtered(def: ResourceDef, namespace: string, q: URLSearchParams): KubeObject[] {
    const { label, field } = matchers(def, q);
    const all = storage.list(def.key, def.namespaced && namespace ? namespace : undefined);
    if (!label && !field) return all.slice();
    return all.filter((o) => (!label || label(o)) && (!field || field(o)));
  }

  const listSnapshots = new Map<string, readonly KubeObject[]>();
  function listJson(def: ResourceDef, namespace: string, q: URLSearchParams, accept?: string): string {
    const { label, field } = matchers(def, q);
    const limitStr = q.get("limit");
    const limit = limitStr ? Number(limitStr) : 0;
    if (limitStr && (!Number.isInteger(limit) || limit < 0))
      throw badRequest(`limit: Invalid value: "${limitStr}": must be a non-negative integer`);
    const rvParam = q.get("resourceVersion") ?? "";
    const cont = q.get("continue") ?? "";
    let listRv = storage.resourceVersion;
    if (rvParam && !/^\d+$/.test(rvParam))
      throw badRequest(`resourceVersion: Invalid value: "${rvParam}": must be a non-negative integer`);
    if (rvParam && Number(rvParam) > storage.resourceVersion) {
      throw new StatusFailure(
        504,
        "Timeout",
        `Too large resource version: ${rvParam}, current: ${storage.resourceVersion}`,
        {
          causes: [{ reason: "ResourceVersionTooLarge", message: "Too large resource version" }],
          retryAfterSeconds: 1,
        },
      );
    }
    if (rvParam && q.get("resourceVersionMatch") === "Exact" && Number(rvParam) < storage.resourceVersion) {
      if (Number(rvParam) < storage.oldestResumable(def.key))
        throw new StatusFailure(410, "Expired", `The resourceVersion for the provided list is too old.`);
    }
    let start = "";
    if (cont) {
      if (rvParam) throw badRequest("specifying resource version is not allowed when using continue");
      const c = decodeContinue(cont);
      if (c.rv < storage.oldestResumable(def.key))
        throw new StatusFailure(
          410,
          "Expired",
          "The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response to retrieve the remainder of the results. Continuing with the provided token results in an inconsistent list - objects that were created, modified, or deleted between the time the first chunk was returned and now may show up in the list.",
        );
      listRv = c.rv;
      start = c.start;
    }
    const scope = def.namespaced && namespace ? namespace : undefined;
    const snapKey = `${def.key}|${scope ?? ""}|${listRv}`;
    // continue pages read the snapshot taken for the first page: a consistent list like etcd's
    // (stored objects are immutable, so the snapshot is an array of shared references)
    const snapshot = cont ? listSnapshots.get(snapKey) : undefined;
    const all: readonly KubeObject[] = snapshot ?? storage.list(def.key, scope);
    const items: KubeObject[] = [];
    let i = 0;
    if (start) {
      // binary search the first key after `start` (the list is in key order)
      let lo = 0;
      let hi = all.length;
      while (lo < hi) {
        const mid = (lo + hi) >> 1;
        if (objKey(all[mid]!) < start) lo = mid + 1;
        else hi = mid;
      }
      i = lo;
    }
    let next = "";
    let remaining = 0;
    for (; i < all.length; i++) {
      const o = all[i]!;
      if ((label && !label(o)) || (field && !field(o))) continue;
      if (limit > 0 && items.length >= limit) {
        next = encodeContinue(listRv, `${objKey(items[items.length - 1]!)}\u0000`);
        if (!listSnapshots.has(snapKey)) {
          listSnapshots.set(snapKey, all.slice());
          if (listSnapshots.size > 64) listSnapshots.delete(listSnapshots.keys().next().value!);
        }
        if (!label && !field) remaining = all.length - i;
        break;
      }
      items.push(o);
    }
    if (wantsTable(accept)) {
      const t = toTable(def, items, listRv, accept);
      if (next) t.metadata.continue = next;
      return JSON.stringify(t);
    }
    let meta = `"resourceVersion":"${listRv}"`;
    if (next) meta += `,"continue":"${next}"`;
    if (remaining) meta += `,"remainingItemCount":${remaining}`;
    let out = `{"kind":"${def.kind}List","apiVersion":"${def.apiVersion}","metadata":{${meta}},"items":[`;
    const conv = def.convert;
    for (let j = 0; j < items.length; j++)
      out += (j ? "," : "") + (conv ? JSON.stringify(conv.out(items[j]!)) : bareJson(items[j]!));
    return `${out}]}`;
  }

  function serveWatch(
    def: ResourceDef,
    namespace: string,
    q: URLSearchParams,
    req: http.IncomingMessage,
    res: http.ServerResponse,
    tableAccept?: string,
  ): void {
    const { label, field } = matchers(def, q);
    const rvParam = q.get("resourceVersion") ?? "";
    if (rvParam && !/^\d+$/.test(rvParam))
      throw badRequest(`resourceVersion: Invalid value: "${rvParam}": must be a non-negative integer`);
    const bookmarks = queryBool(q, "allowWatchBookmarks");
    const sendInitial = queryBool(q, "sendInitialEvents");
    const timeoutStr = q.get("timeoutSeconds");
    const timeoutMs = timeoutStr ? Number(timeoutStr) * 1000 : (1800 + Math.random() * 1800) * 1000;
    const ns = def.namespaced && namespace ? namespace : undefined;
    const match = (o: KubeObject): boolean =>
      (ns === undefined || o.metadata.namespace === ns) && (!label || label(o)) && (!field || field(o));
    const filteredWatch = ns !== undefined || label !== undefined || field !== undefined;
    res.writeHead(200, {
      "Content-Type": "application/json",
      "Transfer-Encoding": "chunked",
      "Cache-Control": "no-cache, private",
    });
    res.flushHeaders();
    let closed = false;
    let lastRv = storage.resourceVersion;
    const write = (line: string): void => {
      if (closed) return;
      res.write(line);
      if (res.writableLength > 32 * 1024 * 1024) close(); // a watcher too slow to keep up is dropped, like upstream
    };
    const line = (type: string, def0: ResourceDef, obj: KubeObject): string =>
      tableAccept
        ? `{"type":"${type}","object":${JSON.stringify(toTable(def0, [obj], Number(obj.metadata.resourceVersion), tableAccept))}}\n`
        : `{"type":"${type}","object":${wireJson(def0, obj)}}\n`;
    const deliver = (ev: StorageEvent): void => {
      if (ev.rv <= fromRv) return;
      lastRv = ev.rv;
      let type: string = ev.type;
      let obj = ev.object;
      if (filteredWatch) {
        const now = match(ev.object);
        const before = ev.prev ? match(ev.prev) : false;
        if (ev.type === "MODIFIED") {
          if (now && !before) type = "ADDED";
          else if (!now && before) {
            type = "DELETED";
            obj = { ...ev.prev!, metadata: { ...ev.prev!.metadata, resourceVersion: String(ev.rv) } };
          } else if (!now) return;
        } else if (!now) return;
      }
      if (obj === ev.object && !tableAccept) {
        ev.cache ??= new Map();
        const cacheKey = `${def.apiVersion}|${type}`;
        let s = ev.cache.get(cacheKey);
        if (s === undefined) {
          s = line(type, def, obj);
          ev.cache.set(cacheKey, s);
        }
        write(s);
      } else write(line(type, def, obj));
    };
    let fromRv: number;
    if (!rvParam || rvParam === "0" || sendInitial) {
      fromRv = storage.resourceVersion;
      for (const o of storage.list(def.key, ns)) if (match(o)) write(line("ADDED", def, o));
      if (sendInitial && bookmarks)
        write(
          `{"type":"BOOKMARK","object":{"kind":"${def.kind}","apiVersion":"${def.apiVersion}","metadata":{"resourceVersion":"${fromRv}","annotations":{"k8s.io/initial-events-end":"true"}}}}\n`,
        );
    } else fromRv = Number(rvParam);
    const sub = storage.subscribe(def.key, fromRv, deliver);
    if (sub === "expired") {
      const f = new StatusFailure(
        410,
        "Expired",
        `too old resource version: ${fromRv} (${storage.oldestResumable(def.key)})`,
      );
      res.end(`{"type":"ERROR","object":${JSON.stringify(f.toStatus())}}\n`);
      return;
    }
    const bookmarkTimer = bookmarks
      ? setInterval(() => {
          lastRv = Math.max(lastRv, storage.resourceVersion);
          write(
            `{"type":"BOOKMARK","object":{"kind":"${def.kind}","apiVersion":"${def.apiVersion}","metadata":{"resourceVersion":"${lastRv}"}}}\n`,
          );
        }, bookmarkMs)
      : undefined;
    const timeout = setTimeout(() => close(), timeoutMs);
    function close(): void {
      if (closed) return;
      closed = true;
      sub !== "expired" && sub.close();
      if (bookmarkTimer) clearInterval(bookmarkTimer);
      clearTimeout(timeout);
      watches.delete(close);
      res.end();
    }
    watches.set(close, def.key);
    req.on("close", close);
    res.on("close", close);
  }

  // bootstrap objects kube-apiserver creates itself (system namespaces, the kubernetes service)
  const nsDef = findResource("", "v1", "namespaces")!;
  for (const n of ["default", "kube-system", "kube-public", "kube-node-lease"])
    if (!core.find(nsDef, "", n)) core.create(nsDef, "", { metadata: { name: n } });
  const svcDef = findResource("", "v1", "services")!;
  for (const o of storage.list(svcDef.key))
    if (o.spec?.clusterIP && o.spec.clusterIP !== "None") core.reserveServiceIp(o.spec.clusterIP);

  let actualPort = port;
  const listen = (p: number): Promise<void> =>
    new Promise((resolve, reject) => {
      const onErr = (e: Error): void =>
        reject(
          new TestkitError("CommandFailed", `apiserver could not listen on 127.0.0.1:${p}: ${e.message}`, {
            cause: e,
          }),
        );
      server.once("error", onErr);
      server.listen(p, "127.0.0.1", () => {
        server.off("error", onErr);
        actualPort = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  await listen(port);
  const scheme = pki ? "https" : "http";
  const url = `${scheme}://127.0.0.1:${actualPort}`;
  if (!core.find(svcDef, "default", "kubernetes")) {
    core.create(svcDef, "default", {
      metadata: { name: "kubernetes", labels: { component: "apiserver", provider: "kubernetes" } },
      spec: {
        clusterIP: core.firstServiceIp,
        ports: [{ name: "https", port: 443, protocol: "TCP", targetPort: actualPort }],
      },
    });
  }

  const slicesDef = findResource("discovery.k8s.io", "v1", "endpointslices")!;
  if (!core.find(slicesDef, "default", "kubernetes")) {
    // the apiserver publishes its own endpoint for the `kubernetes` service (loopback here: a local stand-in)
    core.create(slicesDef, "default", {
      metadata: {
        name: "kubernetes",
        labels: {
          "kubernetes.io/service-name": "kubernetes",
          "endpointslice.kubernetes.io/managed-by": "endpointslicemirroring-controller.k8s.io",
        },
      },
      addressType: "IPv4",
      endpoints: [{ addresses: ["127.0.0.1"], conditions: { ready: true } }],
      ports: [{ name: "https", port: actualPort, protocol: "TCP" }],
    });
  }

  // the watch cache is initialised from a list now: older resourceVersions are outside its window
  storage.compact?.();

  const kubeconfigText = (identity = "admin"): string => {
    const cert = clientCerts.get(identity);
    const cluster: Json = { server: url };
    if (pki) cluster["certificate-authority-data"] = Buffer.from(pki.ca.certPem).toString("base64");
    // plain HTTP: client-node refuses http:// servers unless TLS verification is marked skipped
    else cluster["insecure-skip-tls-verify"] = true;
    const userEntry: Json = cert
      ? {
          "client-certificate-data": Buffer.from(cert.certPem).toString("base64"),
          "client-key-data": Buffer.from(cert.keyPem).toString("base64"),
        }
      : { token: tokens.staticToken(identityUser(identity)) };
    const doc = {
      apiVersion: "v1",
      kind: "Config",
      clusters: [{ name: "kubenode", cluster }],
      users: [{ name: identity, user: userEntry }],
      contexts: [
        { name: "kubenode", context: { cluster: "kubenode", user: identity, namespace: "default" } },
      ],
      "current-context": "kubenode",
      preferences: {},
    };
    return JSON.stringify(doc, null, 2);
  };
  const written = new Map<string, string>();
  const kubeconfigFor = async (identity: string, groups?: readonly string[]): Promise<string> => {
    if (!identity || /[\n\r]/.test(identity))
      throw new TestkitError(
        "InvalidArgument",
        `kubeconfigFor: invalid identity ${JSON.stringify(identity)}`,
      );
    if (pki && !clientCerts.has(identity)) {
      const u = identityUser(identity, groups);
      clientCerts.set(
        identity,
        pki.issueClient(
          u.username,
          u.groups.filter((g) => g !== "system:authenticated"),
        ),
      );
    } else if (!pki) tokens.staticToken(identityUser(identity, groups));
    let p = written.get(identity);
    if (!p) {
      p = join(dir, `kubeconfig-${identity.replace(/[^A-Za-z0-9_.-]/g, "_")}.yaml`);
      written.set(identity, p);
    }
    await writeFile(p, kubeconfigText(identity), { mode: 0o600 });
    return p;
  };
  const kubeconfigPath = await kubeconfigFor("admin");

  const controllers: ControllerSet = startControllers(core, {
    ...(options.controllers ?? {}),
    syncIntervalMs: options.controllerSyncIntervalMs ?? 1000,
    nodeMonitorGracePeriodSeconds: options.nodeMonitorGracePeriodSeconds ?? 40,
    ...(pki ? { caPem: pki.ca.certPem, signCertificate: pki.signFor } : {}),
  });

  let suspended = false;
  let stopped = false;
  const dropConnections = (): void => {
    for (const w of [...watches.keys()]) w();
    for (const s of sockets) s.destroy();
    sockets.clear();
  };
  const closeServer = (): Promise<void> =>
    new Promise((resolve) => {
      server.close(() => resolve());
      dropConnections();
    });

  return {
    url,
    port: actualPort,
    kubeconfigPath,
    caPem: pki?.ca.certPem,
    kubeconfigFor,
    kubeconfigText,
    tokenFor: (identity, groups) => tokens.staticToken(identityUser(identity, groups)),
    async suspend() {
      if (suspended || stopped) return;
      suspended = true;
      controllers.pause();
      await closeServer();
    },
    async resume() {
      if (!suspended || stopped) return;
      await listen(actualPort);
      suspended = false;
      controllers.resume();
    },
    injectFault(f) {
      if (!Number.isInteger(f.times) || f.times < 1)
        throw new TestkitError(
          "InvalidArgument",
          `injectFault: times must be a positive integer, got ${String(f.times)}`,
        );
      if (![409, 500, 503, 429].includes(f.status))
        throw new TestkitError(
          "InvalidArgument",
          `injectFault: status must be 409, 500, 503 or 429, got ${String(f.status)}`,
        );
      faults.push({ ...f, left: f.times });
    },
    expireWatchHistory(target) {
      if (!storage.compact)
        throw new TestkitError("InvalidArgument", "expireWatchHistory: the storage backend has no compact()");
      let keys: string[] | undefined;
      if (target) {
        keys = [
          ...new Set(
            core
              .storedResources()
              .filter((r) => r.plural === target.resource && r.group === (target.group ?? ""))
              .map((r) => r.key),
          ),
        ];
        if (!keys.length)
          throw new TestkitError(
            "InvalidArgument",
            `expireWatchHistory: no stored resource ${target.group ? `${target.resource}.${target.group}` : target.resource}`,
          );
        for (const k of keys) storage.compact(k);
      } else storage.compact();
      for (const [close, key] of [...watches]) if (!keys || keys.includes(key)) close();
      return storage.resourceVersion;
    },
    requests,
    core,
    storage,
    syncControllers: () => controllers.syncAll(),
    async stop() {
      if (stopped) return;
      stopped = true;
      controllers.stop();
      if (!suspended) await closeServer();
      if (ownDir) await rm(dir, { recursive: true, force: true });
    },
  };
}
