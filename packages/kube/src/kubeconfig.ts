import { readFileSync } from "node:fs";
import { homedir } from "node:os";
import { dirname, isAbsolute, join } from "node:path";
import { parse as parseYaml } from "yaml";
import { KubeError } from "./errors.js";

/**
 * Everything needed to reach one API server as one identity, resolved from a kubeconfig, the
 * in-cluster service account, or given explicitly. PEM material is held in memory.
 */
export interface KubeConnection {
  /** Base URL of the API server, e.g. `https://127.0.0.1:6443`. */
  server: string;
  /** PEM bundle of the cluster CA; absent means the system roots. */
  caPem?: string;
  /** PEM client certificate (x509 client auth). */
  certPem?: string;
  /** PEM private key of {@link certPem}. */
  keyPem?: string;
  /** Bearer token. */
  token?: string;
  /** File re-read for a bearer token on every new connection (projected service account tokens rotate). */
  tokenFile?: string;
  /** Skip server certificate verification (needed for plain-test servers only). */
  skipTLSVerify?: boolean;
  /** Server name to verify instead of the URL's host. */
  tlsServerName?: string;
  /** Default namespace of the selected context. */
  namespace?: string;
  /** Name of the context used, for messages. */
  contextName?: string;
}

/** Where to load a connection from. With no option: $KUBECONFIG, in-cluster, then ~/.kube/config. */
export interface LoadKubeConfigOptions {
  /** A kubeconfig file. */
  path?: string | undefined;
  /** Context to use instead of `current-context`. */
  context?: string | undefined;
  /** Force the in-cluster service account (KUBERNETES_SERVICE_HOST/PORT + mounted token and CA). */
  inCluster?: boolean | undefined;
  /** Environment to read; defaults to `process.env`. */
  env?: Record<string, string | undefined> | undefined;
}

const SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount";

type Named<T> = { name?: string } & Record<string, T | undefined | string>;

function fail(message: string, cause?: unknown): never {
  throw new KubeError("InvalidConfig", message, cause === undefined ? {} : { cause });
}

function readText(path: string, what: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    fail(`cannot read ${what} ${path}: ${(err as Error).message}`, err);
  }
}

function decodeB64(value: unknown, what: string): string {
  if (typeof value !== "string" || value.length === 0) fail(`${what} must be a non-empty base64 string`);
  return Buffer.from(value, "base64").toString("utf8");
}

function findNamed(list: unknown, name: string, key: string, file: string): Record<string, unknown> {
  if (!Array.isArray(list)) fail(`kubeconfig ${file}: "${key}s" is missing or not a list`);
  const entry = (list as Named<unknown>[]).find((e) => e?.name === name);
  const inner = entry?.[key];
  if (!inner || typeof inner !== "object") fail(`kubeconfig ${file}: no ${key} named "${name}"`);
  return inner as Record<string, unknown>;
}

/** Parses kubeconfig text (YAML or JSON). `baseDir` resolves relative certificate/key paths. */
export function parseKubeConfig(
  text: string,
  options: { baseDir?: string; context?: string; source?: string } = {},
): KubeConnection {
  const file = options.source ?? "(inline)";
  let doc: unknown;
  try {
    doc = parseYaml(text);
  } catch (err) {
    fail(`kubeconfig ${file} is not valid YAML: ${(err as Error).message}`, err);
  }
  if (!doc || typeof doc !== "object") fail(`kubeconfig ${file} is empty`);
  const cfg = doc as Record<string, unknown>;
  const contextName = options.context ?? (cfg["current-context"] as string | undefined);
  if (!contextName) fail(`kubeconfig ${file} has no current-context and no context was given`);
  const ctx = findNamed(cfg.contexts, contextName, "context", file);
  const clusterName = ctx.cluster as string | undefined;
  if (!clusterName) fail(`kubeconfig ${file}: context "${contextName}" names no cluster`);
  const cluster = findNamed(cfg.clusters, clusterName, "cluster", file);
  const userName = ctx.user as string | undefined;
  const user = userName ? findNamed(cfg.users, userName, "user", file) : {};
  const resolve = (p: string) => (isAbsolute(p) || !options.baseDir ? p : join(options.baseDir, p));

  const server = cluster.server;
  if (typeof server !== "string" || server.length === 0)
    fail(`kubeconfig ${file}: cluster "${clusterName}" has no server`);
  try {
    new URL(server);
  } catch (err) {
    fail(`kubeconfig ${file}: cluster "${clusterName}" server ${JSON.stringify(server)} is not a URL`, err);
  }
  const conn: KubeConnection = { server: server.replace(/\/+$/, ""), contextName };
  if (cluster["certificate-authority-data"]) {
    conn.caPem = decodeB64(cluster["certificate-authority-data"], "certificate-authority-data");
  } else if (typeof cluster["certificate-authority"] === "string") {
    conn.caPem = readText(resolve(cluster["certificate-authority"]), "certificate-authority");
  }
  if (cluster["insecure-skip-tls-verify"] === true) conn.skipTLSVerify = true;
  if (typeof cluster["tls-server-name"] === "string") conn.tlsServerName = cluster["tls-server-name"];
  if (user["client-certificate-data"]) {
    conn.certPem = decodeB64(user["client-certificate-data"], "client-certificate-data");
  } else if (typeof user["client-certificate"] === "string") {
    conn.certPem = readText(resolve(user["client-certificate"]), "client-certificate");
  }
  if (user["client-key-data"]) {
    conn.keyPem = decodeB64(user["client-key-data"], "client-key-data");
  } else if (typeof user["client-key"] === "string") {
    conn.keyPem = readText(resolve(user["client-key"]), "client-key");
  }
  if (typeof user.token === "string") conn.token = user.token;
  if (typeof user.tokenFile === "string") conn.tokenFile = resolve(user.tokenFile);
  if (user.exec || user["auth-provider"]) {
    fail(
      `kubeconfig ${file}: user "${userName}" uses exec/auth-provider credentials, which are not supported; use a client certificate or token`,
    );
  }
  if (Boolean(conn.certPem) !== Boolean(conn.keyPem)) {
    fail(
      `kubeconfig ${file}: user "${userName}" has a client certificate without a key (or a key without a certificate)`,
    );
  }
  if (typeof ctx.namespace === "string") conn.namespace = ctx.namespace;
  return conn;
}

/** The in-cluster connection of a pod's service account. */
export function inClusterConnection(env: Record<string, string | undefined> = process.env): KubeConnection {
  const host = env.KUBERNETES_SERVICE_HOST;
  const port = env.KUBERNETES_SERVICE_PORT;
  if (!host || !port) fail("in-cluster config needs KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT");
  const hostPart = host.includes(":") ? `[${host}]` : host;
  return {
    server: `https://${hostPart}:${port}`,
    caPem: readText(join(SA_DIR, "ca.crt"), "service account CA"),
    tokenFile: join(SA_DIR, "token"),
    namespace: readText(join(SA_DIR, "namespace"), "service account namespace").trim(),
    contextName: "in-cluster",
  };
}

/**
 * Loads a connection: an explicit `path`, else `inCluster`, else the first file of $KUBECONFIG,
 * else in-cluster when KUBERNETES_SERVICE_HOST is set, else ~/.kube/config.
 */
export function loadKubeConfig(options: LoadKubeConfigOptions = {}): KubeConnection {
  const env = options.env ?? process.env;
  const fromFile = (path: string) =>
    parseKubeConfig(readText(path, "kubeconfig"), {
      baseDir: dirname(path),
      source: path,
      ...(options.context ? { context: options.context } : {}),
    });
  if (options.path) return fromFile(options.path);
  if (options.inCluster) return inClusterConnection(env);
  const first = env.KUBECONFIG?.split(":").find((p) => p.length > 0);
  if (first) return fromFile(first);
  if (env.KUBERNETES_SERVICE_HOST) return inClusterConnection(env);
  return fromFile(join(env.HOME ?? homedir(), ".kube", "config"));
}
