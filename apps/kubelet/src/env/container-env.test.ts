import { describe, expect, it } from "vitest";
import type { Container, Pod } from "../api.js";
import type { ObjectSource, ServiceData } from "../object-source.js";
import { RuntimeStepError } from "../runtime/types.js";
import { type EnvWarning, isEnvVarName, resolveContainerEnv, serviceEnv } from "./container-env.js";
import { formatMap, resourceFieldValue } from "./field-ref.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

function objects(
  over: Partial<{
    cms: Record<string, Record<string, string>>;
    secrets: Record<string, Record<string, string>>;
    services: Record<string, ServiceData[]>;
  }> = {},
): ObjectSource {
  return {
    async getConfigMap(_ns, name) {
      const d = over.cms?.[name];
      return d ? { data: d } : undefined;
    },
    async getSecret(_ns, name) {
      const d = over.secrets?.[name];
      return d ? { data: Object.fromEntries(Object.entries(d).map(([k, v]) => [k, b64(v)])) } : undefined;
    },
    async listServices(ns) {
      return over.services?.[ns] ?? [];
    },
    async requestToken() {
      throw new Error("unused");
    },
  };
}

function pod(container: Partial<Container>, spec: Record<string, unknown> = {}): [Pod, Container] {
  const c: Container = { name: "c", image: "busybox", ...container };
  return [
    {
      metadata: { name: "p", namespace: "team", uid: "u-1", labels: { app: "web" }, annotations: { a: "1" } },
      spec: { nodeName: "node-a", serviceAccountName: "builder", containers: [c], ...spec },
    },
    c,
  ];
}

const downward = {
  podIPs: ["10.1.0.5", "fd00::5"],
  hostIPs: ["192.0.2.1"],
  nodeAllocatable: { milliCpu: 4000, memoryBytes: 8 * 2 ** 30 },
};

describe("resolveContainerEnv", () => {
  it("layers envFrom, env (which wins) and service variables (which never override)", async () => {
    const [p, c] = pod({
      envFrom: [{ configMapRef: { name: "cm" }, prefix: "CM_" }, { secretRef: { name: "s" } }],
      env: [
        { name: "CM_A", value: "override" },
        { name: "WEB_SERVICE_HOST", value: "mine" },
        { name: "REF", value: "$(CM_B)/$(WEB_SERVICE_PORT)/$(UNKNOWN)/$$(CM_B)" },
      ],
    });
    const env = await resolveContainerEnv(p, c, {
      objects: objects({
        cms: { cm: { A: "1", B: "2" } },
        secrets: { s: { PASSWORD: "pw" } },
        services: {
          team: [{ metadata: { name: "web" }, spec: { clusterIP: "10.96.0.7", ports: [{ port: 80 }] } }],
        },
      }),
      downward,
    });
    expect(Object.fromEntries(env)).toMatchObject({
      CM_A: "override",
      CM_B: "2",
      PASSWORD: "pw",
      WEB_SERVICE_HOST: "mine",
      WEB_SERVICE_PORT: "80",
      REF: "2/80/$(UNKNOWN)/$(CM_B)",
    });
  });

  it("resolves fieldRef and resourceFieldRef", async () => {
    const [p, c] = pod({
      resources: { limits: { memory: "128Mi" }, requests: { cpu: "250m" } },
      env: [
        { name: "N", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
        { name: "NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
        { name: "UID", valueFrom: { fieldRef: { fieldPath: "metadata.uid" } } },
        { name: "L", valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
        { name: "AN", valueFrom: { fieldRef: { fieldPath: "metadata.annotations['a']" } } },
        { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
        { name: "SA", valueFrom: { fieldRef: { fieldPath: "spec.serviceAccountName" } } },
        { name: "IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
        { name: "IPS", valueFrom: { fieldRef: { fieldPath: "status.podIPs" } } },
        { name: "HIP", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } },
        { name: "MEM", valueFrom: { resourceFieldRef: { resource: "limits.memory", divisor: "1Mi" } } },
        { name: "CPU_REQ", valueFrom: { resourceFieldRef: { resource: "requests.cpu", divisor: "1m" } } },
        { name: "CPU_REQ_CORES", valueFrom: { resourceFieldRef: { resource: "requests.cpu" } } },
        { name: "CPU_LIMIT", valueFrom: { resourceFieldRef: { resource: "limits.cpu" } } },
      ],
    });
    const env = await resolveContainerEnv(p, c, { objects: objects(), downward });
    expect(Object.fromEntries(env)).toEqual({
      N: "p",
      NS: "team",
      UID: "u-1",
      L: "web",
      AN: "1",
      NODE: "node-a",
      SA: "builder",
      IP: "10.1.0.5",
      IPS: "10.1.0.5,fd00::5",
      HIP: "192.0.2.1",
      MEM: "128",
      CPU_REQ: "250",
      CPU_REQ_CORES: "1", // rounded up, at least 1
      CPU_LIMIT: "4", // no limit: node allocatable
    });
  });

  it("fails missing non-optional references with upstream's messages and skips optional ones", async () => {
    const cases: [Container["env"], Container["envFrom"], string][] = [
      [
        [{ name: "X", valueFrom: { configMapKeyRef: { name: "gone", key: "k" } } }],
        undefined,
        'configmap "gone" not found',
      ],
      [
        [{ name: "X", valueFrom: { configMapKeyRef: { name: "cm", key: "nokey" } } }],
        undefined,
        "couldn't find key nokey in ConfigMap team/cm",
      ],
      [
        [{ name: "X", valueFrom: { secretKeyRef: { name: "gone", key: "k" } } }],
        undefined,
        'secret "gone" not found',
      ],
      [
        [{ name: "X", valueFrom: { secretKeyRef: { name: "s", key: "nokey" } } }],
        undefined,
        "couldn't find key nokey in Secret team/s",
      ],
      [undefined, [{ configMapRef: { name: "gone" } }], 'configmap "gone" not found'],
      [undefined, [{ secretRef: { name: "gone" } }], 'secret "gone" not found'],
      [
        [{ name: "X", valueFrom: { fieldRef: { fieldPath: "metadata.labels" } } }],
        undefined,
        "unsupported fieldPath: metadata.labels",
      ],
    ];
    const src = objects({ cms: { cm: { A: "1" } }, secrets: { s: { A: "1" } } });
    for (const [env, envFrom, message] of cases) {
      const [p, c] = pod({ ...(env ? { env } : {}), ...(envFrom ? { envFrom } : {}) });
      const err = await resolveContainerEnv(p, c, { objects: src, downward }).catch((e) => e);
      expect(err).toBeInstanceOf(RuntimeStepError);
      expect(err).toMatchObject({ reason: "CreateContainerConfigError", message });
    }
    const [p, c] = pod({
      env: [
        { name: "A", valueFrom: { configMapKeyRef: { name: "gone", key: "k", optional: true } } },
        { name: "B", valueFrom: { secretKeyRef: { name: "s", key: "nokey", optional: true } } },
      ],
      envFrom: [{ configMapRef: { name: "gone", optional: true } }],
    });
    expect([...(await resolveContainerEnv(p, c, { objects: src, downward })).keys()]).toEqual([]);
  });

  it("skips envFrom keys that are not valid names, with upstream's event text", async () => {
    const warnings: EnvWarning[] = [];
    const [p, c] = pod({ envFrom: [{ configMapRef: { name: "cm" } }] });
    const env = await resolveContainerEnv(p, c, {
      objects: objects({ cms: { cm: { "2b": "x", "1a": "y", ok: "z" } } }),
      downward,
      warn: (w) => warnings.push(w),
    });
    expect([...env.keys()]).toEqual(["ok"]);
    expect(warnings).toEqual([
      {
        reason: "InvalidEnvironmentVariableNames",
        message:
          "Keys [1a, 2b] from the EnvFrom configMap team/cm were skipped since they are considered invalid environment variable names.",
      },
    ]);
    expect(isEnvVarName("a.b-c_D9")).toBe(true);
    expect(isEnvVarName("9a")).toBe(false);
    expect(isEnvVarName("a b")).toBe(false);
  });

  it("adds the kubernetes Service from default even without service links", async () => {
    const master: ServiceData = {
      metadata: { name: "kubernetes" },
      spec: { clusterIP: "10.96.0.1", ports: [{ name: "https", port: 443 }] },
    };
    const src = objects({
      services: {
        default: [master],
        team: [{ metadata: { name: "db" }, spec: { clusterIP: "10.96.0.9", ports: [{ port: 5432 }] } }],
      },
    });
    const [p, c] = pod({}, { enableServiceLinks: false });
    const env = await resolveContainerEnv(p, c, { objects: src, downward });
    expect(env.get("KUBERNETES_SERVICE_HOST")).toBe("10.96.0.1");
    expect(env.get("KUBERNETES_SERVICE_PORT_HTTPS")).toBe("443");
    expect(env.has("DB_SERVICE_HOST")).toBe(false);
    const [p2, c2] = pod({});
    expect((await resolveContainerEnv(p2, c2, { objects: src, downward })).get("DB_SERVICE_HOST")).toBe(
      "10.96.0.9",
    );
  });

  it("needs the API for references when standalone, and says so", async () => {
    const [p, c] = pod({ env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "cm", key: "k" } } }] });
    await expect(resolveContainerEnv(p, c, { objects: undefined, downward })).rejects.toThrow(
      /runs standalone/,
    );
  });
});

describe("serviceEnv (envvars.FromServices)", () => {
  it("writes host/port and docker link variables; headless services get none", () => {
    const env = Object.fromEntries(
      serviceEnv({
        metadata: { name: "my-db" },
        spec: {
          clusterIP: "fd00::10",
          ports: [
            { name: "sql", port: 5432 },
            { name: "metrics", port: 9187, protocol: "UDP" },
          ],
        },
      }),
    );
    expect(env).toEqual({
      MY_DB_SERVICE_HOST: "fd00::10",
      MY_DB_SERVICE_PORT: "5432",
      MY_DB_SERVICE_PORT_SQL: "5432",
      MY_DB_SERVICE_PORT_METRICS: "9187",
      MY_DB_PORT: "tcp://[fd00::10]:5432",
      MY_DB_PORT_5432_TCP: "tcp://[fd00::10]:5432",
      MY_DB_PORT_5432_TCP_PROTO: "tcp",
      MY_DB_PORT_5432_TCP_PORT: "5432",
      MY_DB_PORT_5432_TCP_ADDR: "fd00::10",
      MY_DB_PORT_9187_UDP: "udp://[fd00::10]:9187",
      MY_DB_PORT_9187_UDP_PROTO: "udp",
      MY_DB_PORT_9187_UDP_PORT: "9187",
      MY_DB_PORT_9187_UDP_ADDR: "fd00::10",
    });
    expect(
      serviceEnv({ metadata: { name: "h" }, spec: { clusterIP: "None", ports: [{ port: 1 }] } }),
    ).toEqual([]);
  });
});

describe("downward API values", () => {
  it('formats label maps as sorted k="v" lines', () => {
    expect(formatMap({ b: "2", a: 'x"y' })).toBe('a="x\\"y"\nb="2"');
  });
  it("divides and rounds resources up", () => {
    const [p] = pod({ resources: { limits: { memory: "100M" } } });
    expect(resourceFieldValue(p, "c", "limits.memory", "1Mi", downward)).toBe("96");
    expect(() => resourceFieldValue(p, "nope", "limits.memory", undefined, downward)).toThrow(
      /container nope not found/,
    );
    expect(() => resourceFieldValue(p, "c", "limits.gpu", undefined, downward)).toThrow(
      /unsupported container resource/,
    );
  });
});
