import { NamespaceMode, Protocol } from "@kubenode/cri-client";
import { describe, expect, it } from "vitest";
import type { Container, Pod } from "../api.js";
import { containerConfig, containerResources, expandVars, podHostname, sandboxConfig } from "./cri-config.js";
import { isValidImageRef, pullPolicy } from "./cri-runtime.js";
import { RuntimeStepError } from "./types.js";

const GiB = 2 ** 30;
const settings = {
  podLogsDir: "/var/log/pods",
  clusterDNS: ["10.96.0.10"],
  clusterDomain: "cluster.local",
  hostResolv: { nameservers: ["192.0.2.1"], searches: [], options: [] },
  nodeMemoryBytes: 8 * GiB,
};
const pod = (containers: Container[], extra: Partial<Pod["spec"]> = {}): Pod => ({
  metadata: { name: "p", namespace: "ns", uid: "uid-1", labels: { a: "b" }, annotations: { note: "x" } },
  spec: { containers, ...extra },
});

describe("CRI configs (kuberuntime)", () => {
  it("expands $(VAR) like upstream: defined names, undefined kept, $$ escapes", () => {
    const env = new Map([
      ["A", "1"],
      ["B", "two"],
    ]);
    expect(expandVars("$(A)-$(B)-$(C)-$$(A)-$$-$", env)).toBe("1-two-$(C)-$(A)-$-$");
    expect(expandVars("$(A", env)).toBe("$(A");
  });

  it("builds the container config: command/args expanded, env, log path, labels, security context", () => {
    const c: Container = {
      name: "app",
      image: "busybox:1.36",
      command: ["sh", "-c"],
      args: ["echo $(GREETING)"],
      workingDir: "/work",
      env: [
        { name: "NAME", value: "world" },
        { name: "GREETING", value: "hello $(NAME)" },
      ],
      securityContext: {
        runAsUser: 1000,
        readOnlyRootFilesystem: true,
        capabilities: { add: ["NET_ADMIN"], drop: ["ALL"] },
        allowPrivilegeEscalation: false,
      },
    };
    const cfg = containerConfig(pod([c]), c, 2, "sha256:abc", settings);
    expect(cfg.metadata).toEqual({ name: "app", attempt: 2 });
    expect(cfg.image).toEqual({ image: "sha256:abc", userSpecifiedImage: "busybox:1.36" });
    expect(cfg.args).toEqual(["echo hello world"]);
    expect(cfg.envs).toEqual([
      { key: "NAME", value: "world" },
      { key: "GREETING", value: "hello world" },
    ]);
    expect(cfg.logPath).toBe("app/2.log");
    expect(cfg.workingDir).toBe("/work");
    expect(cfg.linux?.securityContext).toMatchObject({
      runAsUser: { value: 1000n },
      readonlyRootfs: true,
      noNewPrivs: true,
      capabilities: { addCapabilities: ["NET_ADMIN"], dropCapabilities: ["ALL"] },
    });
  });

  it("rejects configs upstream rejects with CreateContainerConfigError", () => {
    const c: Container = { name: "app", image: "x:1", securityContext: { runAsNonRoot: true, runAsUser: 0 } };
    expect(() => containerConfig(pod([c]), c, 0, "sha256:abc", settings)).toThrow(RuntimeStepError);
    const v: Container = {
      name: "v",
      image: "x:1",
      env: [{ name: "S", valueFrom: { secretKeyRef: { name: "s", key: "k" } } }],
    };
    expect(() => containerConfig(pod([v]), v, 0, "sha256:abc", settings)).toThrow(
      /env var "S" of container "v" uses valueFrom/,
    );
  });

  it("rejects an env var or argument longer than execve takes with CreateContainerConfigError naming it", () => {
    const big = { name: "c", image: "x:1", env: [{ name: "BIG", value: "a".repeat(1024 * 1024) }] };
    expect(() => containerConfig(pod([big]), big, 0, "sha256:abc", settings)).toThrow(
      /^env var "BIG" of container "c" is 1048581 bytes; Linux passes at most 131072 bytes/,
    );
    // 131072 bytes with "NAME=" and the NUL: the largest that starts.
    const edge = { name: "c", image: "x:1", env: [{ name: "E", value: "a".repeat(131_072 - 3) }] };
    expect(containerConfig(pod([edge]), edge, 0, "sha256:abc", settings).envs).toHaveLength(1);
    const edgeOver = { name: "c", image: "x:1", env: [{ name: "E", value: "a".repeat(131_072 - 2) }] };
    expect(() => containerConfig(pod([edgeOver]), edgeOver, 0, "sha256:abc", settings)).toThrow(
      RuntimeStepError,
    );
    // Many variables of 64 KiB (1 MiB in all) are fine: the total limit is the stack's, not ours to guess.
    const many = {
      name: "c",
      image: "x:1",
      env: Array.from({ length: 16 }, (_, i) => ({ name: `V${i}`, value: "b".repeat(64 * 1024) })),
    };
    expect(containerConfig(pod([many]), many, 0, "sha256:abc", settings).envs).toHaveLength(16);
    // An argument grown by $(VAR) expansion counts as expanded.
    const arg = {
      name: "c",
      image: "x:1",
      env: [{ name: "V", value: "c".repeat(100_000) }],
      args: ["$(V)$(V)"],
    };
    expect(() => containerConfig(pod([arg]), arg, 0, "sha256:abc", settings)).toThrow(
      /^command\/args\[0\] of container "c" is 200001 bytes/,
    );
  });

  it("converts resources like cm/helpers_linux.go and sets oom_score_adj by QoS", () => {
    const guaranteed: Container = { name: "g", resources: { limits: { cpu: "500m", memory: "256Mi" } } };
    expect(containerResources(pod([guaranteed]), guaranteed, 8 * GiB)).toEqual({
      cpuShares: 512n,
      cpuPeriod: 100000n,
      cpuQuota: 50000n,
      memoryLimitInBytes: 268435456n,
      oomScoreAdj: -997n,
    });
    const besteffort: Container = { name: "b" };
    expect(containerResources(pod([besteffort]), besteffort, 8 * GiB)).toMatchObject({
      cpuShares: 2n,
      cpuQuota: 0n,
      oomScoreAdj: 1000n,
    });
    const burstable: Container = { name: "u", resources: { requests: { cpu: "1m", memory: "4Gi" } } };
    // 1m CPU -> 1 share, clamped to 2; 4 GiB of 8 GiB requested -> 1000 - 500.
    expect(containerResources(pod([burstable]), burstable, 8 * GiB)).toMatchObject({
      cpuShares: 2n,
      oomScoreAdj: 500n,
    });
    const tinyQuota: Container = { name: "t", resources: { limits: { cpu: "1m" } } };
    expect(containerResources(pod([tinyQuota]), tinyQuota, 8 * GiB).cpuQuota).toBe(1000n);
  });

  it("matches upstream's share, quota and oom_score_adj edge cases", () => {
    const r = (c: Container, pods: Container[] = [c]) => containerResources(pod(pods), c, 8 * GiB);
    // Decimal CPU quantities are exact: 1.1 CPU is 1100m (1126 shares, 110000 µs quota), not 1101m.
    const decimal: Container = { name: "d", resources: { requests: { cpu: "1.1" }, limits: { cpu: "1.1" } } };
    expect(r(decimal)).toMatchObject({ cpuShares: 1126n, cpuQuota: 110000n });
    // Shares are capped at 262144 (256 CPUs); a limit stands in for a missing request.
    const huge: Container = { name: "h", resources: { limits: { cpu: "300" } } };
    expect(r(huge)).toMatchObject({ cpuShares: 262144n, cpuQuota: 30_000_000n });
    // Burstable: a memory request above node capacity floors at 3; a tiny one caps at 999.
    const greedy: Container = { name: "g", resources: { requests: { memory: "16Gi" } } };
    expect(r(greedy).oomScoreAdj).toBe(3n);
    const tiny: Container = { name: "t", resources: { requests: { memory: "1" } } };
    expect(r(tiny).oomScoreAdj).toBe(999n);
    // A Burstable pod's container without requests of its own still gets the Burstable formula
    // with request 0 (-> 1000, then 999), not BestEffort's 1000.
    const bare: Container = { name: "b" };
    expect(r(bare, [bare, greedy]).oomScoreAdj).toBe(999n);
    // A memory limit without a request: the request defaults to the limit (2 GiB of 8 -> 750).
    const limitOnly: Container = {
      name: "l",
      resources: { requests: { cpu: "100m" }, limits: { memory: "2Gi" } },
    };
    expect(r(limitOnly).oomScoreAdj).toBe(750n);
    expect(r(limitOnly).memoryLimitInBytes).toBe(2n * 1024n ** 3n);
    // system-node-critical pods get -997 whatever their QoS.
    const critical = pod([bare]);
    critical.spec.priorityClassName = "system-node-critical";
    expect(containerResources(critical, bare, 8 * GiB).oomScoreAdj).toBe(-997n);
  });

  it("builds the sandbox config: labels, annotations, log directory, DNS, ports, namespaces", () => {
    const c: Container = {
      name: "web",
      ports: [
        { name: "http", containerPort: 80, hostPort: 8080 },
        { name: "http", containerPort: 81 },
        { containerPort: 53, protocol: "UDP" },
      ],
    };
    const cfg = sandboxConfig(pod([c], { hostPID: true }), 1, settings);
    expect(cfg.metadata).toEqual({ name: "p", namespace: "ns", uid: "uid-1", attempt: 1 });
    expect(cfg.logDirectory).toBe("/var/log/pods/ns_p_uid-1");
    expect(cfg.hostname).toBe("p");
    expect(cfg.annotations).toEqual({ note: "x" });
    expect(cfg.labels?.a).toBe("b");
    expect(cfg.dnsConfig?.servers).toEqual(["10.96.0.10"]);
    expect(cfg.portMappings).toEqual([
      { protocol: Protocol.TCP, containerPort: 80, hostPort: 8080, hostIp: "" },
      { protocol: Protocol.UDP, containerPort: 53, hostPort: 0, hostIp: "" },
    ]);
    expect(cfg.linux?.securityContext?.namespaceOptions).toEqual({
      network: NamespaceMode.POD,
      pid: NamespaceMode.NODE,
      ipc: NamespaceMode.POD,
    });
  });

  it("puts the sandbox in its pod cgroup when pod cgroups are on", () => {
    const c: Container = { name: "c", resources: { requests: { cpu: "100m" } } };
    expect(sandboxConfig(pod([c]), 0, settings).linux?.cgroupParent).toBeUndefined();
    const on = { ...settings, podCgroups: { driver: "cgroupfs" as const, root: "/" } };
    expect(sandboxConfig(pod([c]), 0, on).linux?.cgroupParent).toBe("/kubepods/burstable/poduid-1");
  });

  it("cuts hostnames to 63 characters without trailing '-' or '.', and has none on the host network", () => {
    const long = `${"a".repeat(62)}-b`;
    expect(podHostname({ metadata: { name: long }, spec: { containers: [] } })).toBe("a".repeat(62));
    expect(podHostname({ metadata: { name: "x" }, spec: { containers: [], hostNetwork: true } })).toBe("");
    expect(podHostname({ metadata: { name: "x" }, spec: { containers: [], hostname: "h" } })).toBe("h");
  });

  it("defaults the pull policy like the API and validates image references", () => {
    expect(pullPolicy({ name: "a", image: "nginx" })).toBe("Always");
    expect(pullPolicy({ name: "a", image: "nginx:latest" })).toBe("Always");
    expect(pullPolicy({ name: "a", image: "127.0.0.1:5000/x/nginx:1.27" })).toBe("IfNotPresent");
    expect(pullPolicy({ name: "a", image: "127.0.0.1:5000/nginx" })).toBe("Always");
    expect(pullPolicy({ name: "a", image: "nginx:1", imagePullPolicy: "Never" })).toBe("Never");
    for (const ok of [
      "nginx",
      "docker.io/library/nginx:1.27",
      "127.0.0.1:5000/a/b-c:v1",
      `x@sha256:${"a".repeat(64)}`,
    ]) {
      expect(isValidImageRef(ok)).toBe(true);
    }
    for (const bad of ["", "Not A Valid//Image", "UPPER/case", "a:b:c", "x@sha256:short"])
      expect(isValidImageRef(bad)).toBe(false);
  });
});
