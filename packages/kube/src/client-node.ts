import { readFileSync } from "node:fs";
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
 * Request options that make a client-node patch call send `type` as its Content-Type
 * (client-node defaults to JSON patch), e.g.
 * `api.patchNodeStatus({ name, body }, await clientNodePatchOptions(PatchType.StrategicMerge))`.
 */
export async function clientNodePatchOptions(type: PatchContentType) {
  const k8s = await load();
  return k8s.setHeaderOptions("Content-Type", type as never);
}
