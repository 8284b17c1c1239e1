// A container's environment as upstream's makeEnvironmentVariables builds it (kubelet_pods.go 1.32):
// envFrom (configMap/secret, with prefix), then env entries (value with $(VAR) expansion, or
// valueFrom configMapKeyRef/secretKeyRef/fieldRef/resourceFieldRef), then service environment
// variables for names not yet used.
import type { Container, Pod } from "../api.js";
import type { ObjectSource, ServiceData } from "../object-source.js";
import { expandVars } from "../runtime/cri-config.js";
import { RuntimeStepError } from "../runtime/types.js";
import { type DownwardContext, FieldRefError, podFieldValue, resourceFieldValue } from "./field-ref.js";

interface KeyRef {
  name?: string;
  key: string;
  optional?: boolean;
}

interface EnvVarSource {
  configMapKeyRef?: KeyRef;
  secretKeyRef?: KeyRef;
  fieldRef?: { fieldPath: string };
  resourceFieldRef?: { containerName?: string; resource: string; divisor?: string | number };
}

interface EnvFromSource {
  prefix?: string;
  configMapRef?: { name?: string; optional?: boolean };
  secretRef?: { name?: string; optional?: boolean };
}

/** A warning upstream records as an Event on the pod. */
export interface EnvWarning {
  reason: string;
  message: string;
}

export interface ResolveEnvOptions {
  objects: ObjectSource | undefined;
  downward: DownwardContext;
  /** Called for skipped envFrom keys (upstream's InvalidEnvironmentVariableNames event). */
  warn?: (w: EnvWarning) => void;
}

// IsEnvVarName (apimachinery validation): a C identifier with '-' and '.' allowed.
const ENV_VAR_NAME = /^[-._a-zA-Z][-._a-zA-Z0-9]*$/;

/** Whether `name` is a valid environment variable name (IsEnvVarName). */
export function isEnvVarName(name: string): boolean {
  return ENV_VAR_NAME.test(name);
}

function configError(message: string, cause?: unknown): RuntimeStepError {
  return new RuntimeStepError(
    "CreateContainerConfigError",
    message,
    cause === undefined ? undefined : { cause },
  );
}

function decode(b64: string): string {
  return Buffer.from(b64, "base64").toString("utf8");
}

/** Service environment variables (envvars.FromServices), for one service. */
export function serviceEnv(svc: ServiceData): [string, string][] {
  const ip = svc.spec?.clusterIP;
  if (!ip || ip === "None") return [];
  const name = (svc.metadata.name ?? "").toUpperCase().replace(/-/g, "_");
  const ports = svc.spec?.ports ?? [];
  const out: [string, string][] = [[`${name}_SERVICE_HOST`, ip]];
  const first = ports[0];
  if (first) out.push([`${name}_SERVICE_PORT`, String(first.port)]);
  for (const p of ports) {
    if (p.name) out.push([`${name}_SERVICE_PORT_${p.name.toUpperCase().replace(/-/g, "_")}`, String(p.port)]);
  }
  // Docker link variables (makeLinkVariables).
  const host = ip.includes(":") ? `[${ip}]` : ip;
  ports.forEach((p, i) => {
    const proto = (p.protocol ?? "TCP").toLowerCase();
    const prefix = `${name}_PORT_${p.port}_${proto.toUpperCase()}`;
    const url = `${proto}://${host}:${p.port}`;
    if (i === 0) out.push([`${name}_PORT`, url]);
    out.push(
      [prefix, url],
      [`${prefix}_PROTO`, proto],
      [`${prefix}_PORT`, String(p.port)],
      [`${prefix}_ADDR`, ip],
    );
  });
  return out;
}

/**
 * getServiceEnvVarMap: Services of the pod's namespace when enableServiceLinks (default true), plus
 * the `kubernetes` Service of `default` (always; a same-named service of the pod's namespace wins).
 */
async function serviceEnvMap(pod: Pod, objects: ObjectSource): Promise<Map<string, string>> {
  const ns = pod.metadata.namespace ?? "default";
  const links = (pod.spec.enableServiceLinks as boolean | undefined) ?? true;
  const chosen = new Map<string, ServiceData>();
  if (links) for (const s of await objects.listServices(ns)) chosen.set(s.metadata.name ?? "", s);
  if (ns !== "default" || !links) {
    const master = (await objects.listServices("default")).find((s) => s.metadata.name === "kubernetes");
    if (master && !chosen.has("kubernetes")) chosen.set("kubernetes", master);
  }
  const out = new Map<string, string>();
  for (const s of chosen.values()) for (const [k, v] of serviceEnv(s)) out.set(k, v);
  return out;
}

/**
 * Resolves the container's environment. Throws {@link RuntimeStepError} CreateContainerConfigError
 * with upstream's messages when a non-optional reference is missing.
 */
export async function resolveContainerEnv(
  pod: Pod,
  container: Container,
  options: ResolveEnvOptions,
): Promise<Map<string, string>> {
  const ns = pod.metadata.namespace ?? "default";
  const { objects } = options;
  const needsApi = (what: string) => {
    if (!objects) throw configError(`${what} needs the API server; this kubelet runs standalone`);
    return objects;
  };
  const services = objects
    ? await serviceEnvMap(pod, objects).catch((err) => {
        throw configError(
          `failed to list services: ${err instanceof Error ? err.message : String(err)}`,
          err,
        );
      })
    : new Map<string, string>();

  const env = new Map<string, string>();
  for (const from of (container.envFrom ?? []) as EnvFromSource[]) {
    const prefix = from.prefix ?? "";
    let values: Record<string, string> | undefined;
    let kind: "configMap" | "secret";
    let name: string;
    if (from.configMapRef) {
      kind = "configMap";
      name = from.configMapRef.name ?? "";
      const cm = await needsApi(`envFrom configMap ${name}`).getConfigMap(ns, name);
      if (!cm) {
        if (from.configMapRef.optional) continue;
        throw configError(`configmap "${name}" not found`);
      }
      values = { ...(cm.data ?? {}) };
    } else if (from.secretRef) {
      kind = "secret";
      name = from.secretRef.name ?? "";
      const secret = await needsApi(`envFrom secret ${name}`).getSecret(ns, name);
      if (!secret) {
        if (from.secretRef.optional) continue;
        throw configError(`secret "${name}" not found`);
      }
      values = Object.fromEntries(Object.entries(secret.data ?? {}).map(([k, v]) => [k, decode(v)]));
    } else continue;
    const invalid: string[] = [];
    for (const [k, v] of Object.entries(values)) {
      const key = prefix + k;
      if (!isEnvVarName(key)) {
        invalid.push(key);
        continue;
      }
      env.set(key, v);
    }
    if (invalid.length > 0) {
      invalid.sort();
      options.warn?.({
        reason: "InvalidEnvironmentVariableNames",
        message: `Keys [${invalid.join(", ")}] from the EnvFrom ${kind} ${ns}/${name} were skipped since they are considered invalid environment variable names.`,
      });
    }
  }

  // $(VAR) in values sees envFrom, earlier entries and the service variables.
  const mappingOf = () => {
    const m = new Map(env);
    for (const [k, v] of services) if (!m.has(k)) m.set(k, v);
    return m;
  };
  for (const e of container.env ?? []) {
    const src = e.valueFrom as EnvVarSource | undefined;
    if (!src) {
      env.set(e.name, expandVars(e.value ?? "", mappingOf()));
      continue;
    }
    if (src.configMapKeyRef) {
      const { name = "", key, optional } = src.configMapKeyRef;
      const cm = await needsApi(`env ${e.name}`).getConfigMap(ns, name);
      if (!cm) {
        if (optional) continue;
        throw configError(`configmap "${name}" not found`);
      }
      const v =
        cm.data?.[key] ?? (cm.binaryData?.[key] !== undefined ? decode(cm.binaryData[key]) : undefined);
      if (v === undefined) {
        if (optional) continue;
        throw configError(`couldn't find key ${key} in ConfigMap ${ns}/${name}`);
      }
      env.set(e.name, v);
    } else if (src.secretKeyRef) {
      const { name = "", key, optional } = src.secretKeyRef;
      const secret = await needsApi(`env ${e.name}`).getSecret(ns, name);
      if (!secret) {
        if (optional) continue;
        throw configError(`secret "${name}" not found`);
      }
      const raw = secret.data?.[key];
      if (raw === undefined) {
        if (optional) continue;
        throw configError(`couldn't find key ${key} in Secret ${ns}/${name}`);
      }
      env.set(e.name, decode(raw));
    } else if (src.fieldRef) {
      try {
        env.set(e.name, podFieldValue(pod, src.fieldRef.fieldPath, options.downward));
      } catch (err) {
        throw configError(err instanceof FieldRefError ? err.message : String(err), err);
      }
    } else if (src.resourceFieldRef) {
      const r = src.resourceFieldRef;
      try {
        env.set(
          e.name,
          resourceFieldValue(pod, r.containerName || container.name, r.resource, r.divisor, options.downward),
        );
      } catch (err) {
        throw configError(err instanceof Error ? err.message : String(err), err);
      }
    } else {
      throw configError(`env var "${e.name}" of container "${container.name}" has an empty valueFrom`);
    }
  }
  for (const [k, v] of services) if (!env.has(k)) env.set(k, v);
  return env;
}
