// Registry credentials for PullImage from `kubernetes.io/dockerconfigjson` pull secrets.
// Mirrors the kubelet's credential keyring (pkg/credentialprovider): entries are matched against
// the image's registry host and repository path, the most specific first, and each matching
// credential is tried in turn before giving up.
import type { CriCallOptions, CriClient } from "./client.js";
import { CriError } from "./errors.js";
import type { AuthConfig, DeepPartial, PodSandboxConfig, PullImageResponse } from "./gen/runtime/v1/api.js";

/** One `auths` entry of a docker config.json. */
export interface DockerConfigEntry {
  username?: string;
  password?: string;
  /** base64 of `username:password`. */
  auth?: string;
  email?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** The content of a `.dockerconfigjson` (or legacy `.dockercfg` when given as a bare map). */
export interface DockerConfigJson {
  auths?: Record<string, DockerConfigEntry>;
}

const DOCKER_HUB = "docker.io";
const DOCKER_HUB_ALIASES = new Set(["docker.io", "index.docker.io", "registry-1.docker.io"]);

/** Splits an image reference into its registry host and repository path (docker.io defaults applied). */
export function parseImageRegistry(image: string): { host: string; path: string } {
  if (typeof image !== "string" || image.trim() === "") {
    throw new CriError("InvalidArgument", "image reference must not be empty");
  }
  const noDigest = image.split("@")[0] ?? image;
  const slash = noDigest.indexOf("/");
  const first = slash < 0 ? "" : noDigest.slice(0, slash);
  // A first component is a registry host when it has a dot or a port, or is localhost.
  const hasHost = slash >= 0 && (first.includes(".") || first.includes(":") || first === "localhost");
  let host = hasHost ? first : DOCKER_HUB;
  let path = hasHost ? noDigest.slice(slash + 1) : noDigest;
  const lastSlash = path.lastIndexOf("/");
  const colon = path.lastIndexOf(":");
  if (colon > lastSlash) path = path.slice(0, colon);
  if (DOCKER_HUB_ALIASES.has(host)) host = DOCKER_HUB;
  if (host === DOCKER_HUB && !path.includes("/")) path = `library/${path}`;
  return { host, path };
}

function parseKey(key: string): { host: string; path: string } {
  let k = key.trim().replace(/^[a-z]+:\/\//i, "");
  k = k.replace(/\/+$/, "");
  const slash = k.indexOf("/");
  let host = slash < 0 ? k : k.slice(0, slash);
  let path = slash < 0 ? "" : k.slice(slash + 1);
  if (DOCKER_HUB_ALIASES.has(host)) {
    host = DOCKER_HUB;
    // https://index.docker.io/v1/ is the classic key for Docker Hub as a whole.
    if (path === "v1" || path === "v2") path = "";
  }
  return { host, path };
}

function hostMatches(pattern: string, host: string): boolean {
  if (pattern === host) return true;
  // `*.example.com` globs one label per `*`, as the kubelet's keyring does.
  if (!pattern.includes("*")) return false;
  const p = pattern.split(".");
  const h = host.split(".");
  return p.length === h.length && p.every((part, i) => part === "*" || part === h[i]);
}

function toAuthConfig(key: string, entry: DockerConfigEntry): AuthConfig {
  let { username = "", password = "" } = entry;
  if (entry.auth && !username && !password) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const sep = decoded.indexOf(":");
    if (sep < 0)
      throw new CriError(
        "InvalidArgument",
        `docker config entry ${key}: "auth" is not base64 of user:password`,
      );
    username = decoded.slice(0, sep);
    password = decoded.slice(sep + 1);
  }
  return {
    username,
    password,
    auth: "",
    // Left empty like the kubelet does: containerd 1.6 parses it as a URL and rejects "host:port".
    serverAddress: "",
    identityToken: entry.identitytoken ?? "",
    registryToken: entry.registrytoken ?? "",
  };
}

/**
 * The credentials of `dockerConfigs` that apply to `image`, most specific first (as the kubelet
 * orders them). Accepts parsed objects or the JSON text of `.dockerconfigjson` secret data.
 */
export function credentialsForImage(
  image: string,
  dockerConfigs: readonly (DockerConfigJson | string)[],
): AuthConfig[] {
  const target = parseImageRegistry(image);
  const matches: { specificity: number; auth: AuthConfig }[] = [];
  for (const [index, raw] of dockerConfigs.entries()) {
    let config: DockerConfigJson;
    try {
      config = typeof raw === "string" ? (JSON.parse(raw) as DockerConfigJson) : raw;
    } catch (error) {
      throw new CriError("InvalidArgument", `docker config #${index} is not valid JSON`, { cause: error });
    }
    const auths = config.auths ?? (config as Record<string, DockerConfigEntry>);
    for (const [key, entry] of Object.entries(auths)) {
      if (!entry || typeof entry !== "object") continue;
      const k = parseKey(key);
      if (!hostMatches(k.host, target.host)) continue;
      if (k.path && target.path !== k.path && !target.path.startsWith(`${k.path}/`)) continue;
      matches.push({ specificity: k.host.length + k.path.length, auth: toAuthConfig(key, entry) });
    }
  }
  return matches.sort((a, b) => b.specificity - a.specificity).map((m) => m.auth);
}

/** Options of {@link pullImageWithSecrets}. */
export interface PullWithSecretsOptions extends CriCallOptions {
  /** The sandbox the image is for (passed to the runtime as PullImageRequest.sandbox_config). */
  sandboxConfig?: DeepPartial<PodSandboxConfig> | undefined;
}

/**
 * Pulls `image` the way the kubelet does with pull secrets: each matching credential in turn until
 * one works; anonymously when none matches. Rejects with the last error (`Unauthenticated` when the
 * registry refused every credential).
 */
export async function pullImageWithSecrets(
  cri: Pick<CriClient, "pullImage">,
  image: string,
  dockerConfigs: readonly (DockerConfigJson | string)[],
  options: PullWithSecretsOptions = {},
): Promise<PullImageResponse> {
  const { sandboxConfig, ...callOptions } = options;
  const candidates = credentialsForImage(image, dockerConfigs);
  const base = { image: { image }, ...(sandboxConfig ? { sandboxConfig } : {}) };
  if (candidates.length === 0) return cri.pullImage(base, callOptions);
  let last: unknown;
  for (const auth of candidates) {
    try {
      return await cri.pullImage({ ...base, auth }, callOptions);
    } catch (error) {
      last = error;
      if (error instanceof CriError && error.code === "Cancelled") break;
    }
  }
  throw CriError.from(last, "PullImage");
}
