import { readFileSync } from "node:fs";
import { KubeError } from "./errors.js";
import type { KubeConnection } from "./kubeconfig.js";
import type { PatchContentType } from "./patch.js";

// @kubernetes/client-node loads every generated API on import (about 80 MiB of RSS over a bare
// process: bench/import-rss.mjs, figures in the README), so it is only imported on demand, once
// per process.
type ClientNode = typeof import("@kubernetes/client-node");
let clientNode: Promise<ClientNode> | undefined;

function load(): Promise<ClientNode> {
  clientNode ??= import("@kubernetes/client-node");
  return clientNode;
}

type ClientNodeConfig = InstanceType<ClientNode["KubeConfig"]>;
const configs = new WeakMap<KubeConnection, Promise<ClientNodeConfig>>();

/**
 * A `KubeConfig` of @kubernetes/client-node for the same connection, for code that wants the
 * generated typed APIs. Imported lazily: processes that never call this never pay for it. One
 * `KubeConfig` per connection object: calling again returns the same instance.
 */
export function toClientNodeConfig(connection: KubeConnection): Promise<ClientNodeConfig> {
  let kc = configs.get(connection);
  if (!kc) {
    kc = buildConfig(connection);
    configs.set(connection, kc);
  }
  return kc;
}

async function buildConfig(connection: KubeConnection): Promise<ClientNodeConfig> {
  const k8s = await load();
  const kc = new k8s.KubeConfig();
  const cluster = {
    name: "kubenode",
    server: connection.server,
    skipTLSVerify: connection.skipTLSVerify ?? false,
    ...(connection.caPem ? { caData: Buffer.from(connection.caPem).toString("base64") } : {}),
    ...(connection.tlsServerName ? { tlsServerName: connection.tlsServerName } : {}),
  };
  const user = {
    name: "kubenode",
    ...(connection.certPem ? { certData: Buffer.from(connection.certPem).toString("base64") } : {}),
    ...(connection.keyPem ? { keyData: Buffer.from(connection.keyPem).toString("base64") } : {}),
    ...(connection.token ? { token: connection.token } : {}),
    ...(!connection.token && connection.tokenFile
      ? { token: readFileSync(connection.tokenFile, "utf8").trim() }
      : {}),
  };
  kc.loadFromOptions({
    clusters: [cluster],
    users: [user],
    contexts: [
      {
        name: "kubenode",
        cluster: "kubenode",
        user: "kubenode",
        ...(connection.namespace ? { namespace: connection.namespace } : {}),
      },
    ],
    currentContext: "kubenode",
  });
  return kc;
}

/**
 * What {@link fromClientNodeConfig} uses of a client-node `KubeConfig`: structural, so the
 * caller's own copy (any client-node version with these methods) fits.
 */
export interface ClientNodeKubeConfigLike {
  getCurrentCluster(): { server: string; skipTLSVerify?: boolean; tlsServerName?: string } | null;
  getCurrentContext(): string;
  getContextObject(name: string): { namespace?: string } | null;
  applyToHTTPSOptions(opts: never): Promise<void>;
}

/**
 * The connection a client-node `KubeConfig` describes (its current context), for tooling that
 * already has one: client-node itself resolves the credentials (`applyToHTTPSOptions`), so whatever
 * it supports works here too, exec credential plugins, auth providers, token files and client
 * certificates included. The result is a snapshot: a credential that expires (an exec plugin's
 * token with an `expirationTimestamp`) needs another call once it has, as client-go re-runs the
 * plugin on a 401. Username/password (basic auth) is refused, as Kubernetes removed it.
 */
export async function fromClientNodeConfig(kc: ClientNodeKubeConfigLike): Promise<KubeConnection> {
  const cluster = kc.getCurrentCluster();
  if (!cluster) throw new KubeError("InvalidConfig", "client-node KubeConfig: no current cluster");
  const opts: {
    headers: Record<string, unknown>;
    ca?: unknown;
    cert?: unknown;
    key?: unknown;
    auth?: string;
    rejectUnauthorized?: boolean;
    servername?: string;
  } = { headers: {} };
  try {
    await kc.applyToHTTPSOptions(opts as never);
  } catch (err) {
    throw new KubeError(
      "InvalidConfig",
      `client-node KubeConfig: cannot resolve credentials: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  if (opts.auth !== undefined)
    throw new KubeError(
      "InvalidConfig",
      "client-node KubeConfig: basic auth (username/password) is not supported",
    );
  const pem = (v: unknown) =>
    v === undefined || v === null ? undefined : Buffer.isBuffer(v) ? v.toString("utf8") : String(v);
  const authorization = opts.headers.Authorization ?? opts.headers.authorization;
  const token =
    typeof authorization === "string" && authorization.startsWith("Bearer ")
      ? authorization.slice("Bearer ".length)
      : undefined;
  const context = kc.getContextObject(kc.getCurrentContext());
  const caPem = pem(opts.ca);
  const certPem = pem(opts.cert);
  const keyPem = pem(opts.key);
  const tlsServerName = opts.servername ?? cluster.tlsServerName;
  return {
    server: cluster.server,
    ...(caPem ? { caPem } : {}),
    ...(certPem ? { certPem } : {}),
    ...(keyPem ? { keyPem } : {}),
    ...(token ? { token } : {}),
    ...(opts.rejectUnauthorized === false || cluster.skipTLSVerify ? { skipTLSVerify: true } : {}),
    ...(tlsServerName ? { tlsServerName } : {}),
    ...(context?.namespace ? { namespace: context.namespace } : {}),
    contextName: kc.getCurrentContext(),
  };
}

/**
 * Request options that make a client-node patch call send `type` as its Content-Type
 * (client-node defaults to JSON patch), e.g.
 * `api.patchNodeStatus({ name, body }, await clientNodePatchOptions(PatchType.StrategicMerge))`.
 */
export async function clientNodePatchOptions(type: PatchContentType) {
  const k8s = await load();
  return k8s.setHeaderOptions("Content-Type", type as never);
}
