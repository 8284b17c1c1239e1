// The API objects pod features read (configMaps, secrets, services, service account tokens),
// behind one small interface so the volume and env modules are testable without a server and a
// virtual node can serve them from elsewhere.
import { type KubeClient, KubeError } from "@kubenode/kube";

export interface ConfigMapData {
  data?: Record<string, string>;
  /** base64 values */
  binaryData?: Record<string, string>;
}

export interface SecretData {
  /** base64 values */
  data?: Record<string, string>;
}

export interface ServiceData {
  metadata: { name?: string; namespace?: string };
  spec?: {
    clusterIP?: string;
    clusterIPs?: string[];
    ports?: { name?: string; port: number; protocol?: string }[];
  };
}

export interface TokenRequestSpec {
  audiences: string[];
  expirationSeconds: number;
  boundPod: { name: string; uid: string };
}

export interface IssuedToken {
  token: string;
  expirationTimestampMs: number;
}

/** Reads what pods reference. `undefined` means the object does not exist (404). */
export interface ObjectSource {
  getConfigMap(namespace: string, name: string): Promise<ConfigMapData | undefined>;
  getSecret(namespace: string, name: string): Promise<SecretData | undefined>;
  listServices(namespace: string): Promise<ServiceData[]>;
  /** TokenRequest (serviceaccounts/<name>/token); throws when not issued. */
  requestToken(namespace: string, serviceAccount: string, spec: TokenRequestSpec): Promise<IssuedToken>;
}

const ns = (s: string) => encodeURIComponent(s);

async function getOrUndefined<T>(client: KubeClient, path: string): Promise<T | undefined> {
  try {
    return await client.request<T>({ method: "GET", path });
  } catch (err) {
    const e = KubeError.from(err);
    if (e.code === "NotFound") return undefined;
    throw e;
  }
}

/** Reads objects straight from the API server with the node's identity (no cache yet). */
export function createApiObjectSource(client: KubeClient): ObjectSource {
  return {
    getConfigMap: (namespace, name) =>
      getOrUndefined(client, `/api/v1/namespaces/${ns(namespace)}/configmaps/${ns(name)}`),
    getSecret: (namespace, name) =>
      getOrUndefined(client, `/api/v1/namespaces/${ns(namespace)}/secrets/${ns(name)}`),
    async listServices(namespace) {
      const list = await client.request<{ items?: ServiceData[] }>({
        method: "GET",
        path: `/api/v1/namespaces/${ns(namespace)}/services`,
      });
      return list.items ?? [];
    },
    async requestToken(namespace, serviceAccount, spec) {
      const out = await client.request<{ status?: { token?: string; expirationTimestamp?: string } }>({
        method: "POST",
        path: `/api/v1/namespaces/${ns(namespace)}/serviceaccounts/${ns(serviceAccount)}/token`,
        body: {
          apiVersion: "authentication.k8s.io/v1",
          kind: "TokenRequest",
          spec: {
            audiences: spec.audiences,
            expirationSeconds: spec.expirationSeconds,
            boundObjectRef: {
              apiVersion: "v1",
              kind: "Pod",
              name: spec.boundPod.name,
              uid: spec.boundPod.uid,
            },
          },
        },
      });
      const token = out.status?.token;
      const exp = Date.parse(out.status?.expirationTimestamp ?? "");
      if (!token || Number.isNaN(exp))
        throw new Error("TokenRequest answer has no token or expirationTimestamp");
      return { token, expirationTimestampMs: exp };
    },
  };
}
