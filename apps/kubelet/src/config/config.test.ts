import { describe, expect, it } from "vitest";
import {
  ConfigError,
  decodeKubeletConfiguration,
  defaultKubeletConfiguration,
  isKubeletLabel,
  parseFlags,
  parseTaints,
  type ResolveOptions,
  resolveKubeletConfig,
  usage,
  validateNodeLabels,
} from "./index.js";

const HEADER = "apiVersion: kubelet.config.k8s.io/v1beta1\nkind: KubeletConfiguration\n";

function files(map: Record<string, string>): ResolveOptions {
  return {
    hostname: () => "Node-A",
    readFile: async (p) => {
      const text = map[p];
      if (text === undefined) throw new Error(`open ${p}: no such file or directory`);
      return text;
    },
  };
}

async function run(argv: string[], map: Record<string, string> = {}) {
  const cmd = await resolveKubeletConfig(argv, files(map));
  if (cmd.action !== "run") throw new Error(`expected run, got ${cmd.action}`);
  return cmd.resolved;
}

async function failure(argv: string[], map: Record<string, string> = {}): Promise<ConfigError> {
  try {
    await resolveKubeletConfig(argv, files(map));
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return err as ConfigError;
  }
  throw new Error("expected a ConfigError");
}

describe("defaults (pkg/kubelet/apis/config/v1beta1/defaults.go)", () => {
  it("with no flags and no file, the node runs with upstream's defaults, standalone", async () => {
    const r = await run([]);
    expect(r.standalone).toBe(true);
    expect(r.nodeName).toBe("node-a");
    expect(r.flags.rootDir).toBe("/var/lib/kubelet");
    expect(r.config).toMatchObject({
      maxPods: 110,
      containerRuntimeEndpoint: "unix:///run/containerd/containerd.sock",
      runtimeRequestTimeout: "2m0s",
      fileCheckFrequency: "20s",
      syncFrequency: "1m0s",
      nodeStatusUpdateFrequency: "10s",
      nodeStatusReportFrequency: "5m0s",
      nodeLeaseDurationSeconds: 40,
      nodeStatusMaxImages: 50,
      podLogsDir: "/var/log/pods",
      resolvConf: "/etc/resolv.conf",
      registerNode: true,
      port: 10250,
      healthzPort: 10248,
      healthzBindAddress: "127.0.0.1",
      evictionPressureTransitionPeriod: "5m0s",
      mergeDefaultEvictionSettings: false,
      enforceNodeAllocatable: ["pods"],
      logging: { format: "text", verbosity: 0 },
    });
    expect(r.config.evictionHard).toBeUndefined();
  });

  it("treats zero values of non-pointer fields as unset, as Go defaulting does", async () => {
    const r = await run(["--config", "/c.yaml"], {
      "/c.yaml": `${HEADER}maxPods: 0\nfileCheckFrequency: 0s\nhealthzPort: 0\nnodeStatusMaxImages: 0\nresolvConf: ""\n`,
    });
    expect(r.config.maxPods).toBe(110);
    expect(r.config.fileCheckFrequency).toBe("20s");
    // Pointer fields keep an explicit zero.
    expect(r.config.healthzPort).toBe(0);
    expect(r.config.nodeStatusMaxImages).toBe(0);
    expect(r.config.resolvConf).toBe("");
  });

  it("nodeStatusReportFrequency follows an explicit nodeStatusUpdateFrequency", async () => {
    const r = await run(["--config=/c.yaml"], { "/c.yaml": `${HEADER}nodeStatusUpdateFrequency: 4s\n` });
    expect(r.config.nodeStatusReportFrequency).toBe("4s");
  });
});

describe("--config file", () => {
  it("reads the fields we act on and lists known fields we ignore", async () => {
    const r = await run(["--config", "/c.yaml"], {
      "/c.yaml": `${HEADER}staticPodPath: /etc/kubernetes/manifests
clusterDNS: [10.96.0.10]
clusterDomain: cluster.local
maxPods: 30
evictionHard:
  memory.available: 200Mi
registerWithTaints:
  - key: dedicated
    value: edge
    effect: NoSchedule
logging:
  format: json
  verbosity: 3
cgroupDriver: systemd
hairpinMode: promiscuous-bridge
featureGates:
  SidecarContainers: true
syncFrequency: 30s
`,
    });
    expect(r.config.staticPodPath).toBe("/etc/kubernetes/manifests");
    expect(r.config.clusterDNS).toEqual(["10.96.0.10"]);
    expect(r.config.maxPods).toBe(30);
    expect(r.config.evictionHard).toEqual({ "memory.available": "200Mi" });
    expect(r.config.registerWithTaints).toEqual([{ key: "dedicated", value: "edge", effect: "NoSchedule" }]);
    expect(r.config.logging).toMatchObject({ format: "json", verbosity: 3, flushFrequency: "5s" });
    // Known fields this kubelet does not act on are listed, so the binary can warn about them.
    expect(r.config.cgroupDriver).toBe("systemd");
    expect(r.config.syncFrequency).toBe("30s");
    expect(r.ignoredFields).toEqual(["hairpinMode", "featureGates"]);
  });

  it("reads YAML as upstream's YAML 1.1 decoder does (yes/on are booleans)", async () => {
    const r = await run(["--config", "/c.yaml"], {
      "/c.yaml": `${HEADER}registerNode: no\nlocalStorageCapacityIsolation: off\nclusterDomain: "on"\n`,
    });
    expect(r.config.registerNode).toBe(false);
    expect(r.config.localStorageCapacityIsolation).toBe(false);
    expect(r.config.clusterDomain).toBe("on");
    const err = await failure(["--config", "/c.yaml"], { "/c.yaml": `${HEADER}clusterDomain: yes\n` });
    expect(err.message).toContain("cannot unmarshal boolean into field clusterDomain of type string");
  });

  it("accepts the same document as JSON", async () => {
    const r = await run(["--config", "/c.json"], {
      "/c.json": JSON.stringify({
        apiVersion: "kubelet.config.k8s.io/v1beta1",
        kind: "KubeletConfiguration",
        maxPods: 12,
      }),
    });
    expect(r.config.maxPods).toBe(12);
  });

  it("refuses unknown fields, naming every one with its path (strict decoding)", async () => {
    const err = await failure(["--config", "/c.yaml"], {
      "/c.yaml": `${HEADER}maxPod: 20\nauthentication:\n  webhook:\n    enable: true\n`,
    });
    expect(err.code).toBe("InvalidConfigFile");
    expect(err.message).toBe(
      'failed to load kubelet config file, path: /c.yaml, error: strict decoding error: unknown field "maxPod", unknown field "authentication.webhook.enable"',
    );
  });

  it("refuses duplicate fields", async () => {
    const err = await failure(["--config", "/c.yaml"], { "/c.yaml": `${HEADER}maxPods: 1\nmaxPods: 2\n` });
    expect(err.message).toBe(
      'failed to load kubelet config file, path: /c.yaml, error: strict decoding error: duplicate field "maxPods" (line 4)',
    );
  });

  it("refuses values of the wrong type and bad durations, naming the field", async () => {
    const err = await failure(["--config", "/c.yaml"], {
      "/c.yaml": `${HEADER}maxPods: many\nregisterNode: "yes"\nfileCheckFrequency: 20\nsyncFrequency: 1 minute\nevictionHard:\n  memory.available: 100\n`,
    });
    expect(err.message).toContain("cannot unmarshal string into field maxPods of type int32");
    expect(err.message).toContain("cannot unmarshal string into field registerNode of type bool");
    expect(err.message).toContain("cannot unmarshal number into field fileCheckFrequency of type Duration");
    expect(err.message).toContain('invalid value for field syncFrequency: time: invalid duration "1 minute"');
    expect(err.message).toContain(
      'cannot unmarshal number into field evictionHard["memory.available"] of type string',
    );
  });

  it("refuses another kind or version", async () => {
    const wrongKind = await failure(["--config", "/c.yaml"], {
      "/c.yaml": "apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\n",
    });
    expect(wrongKind.message).toContain(
      'no kind "KubeProxyConfiguration" is registered for version "kubeproxy.config.k8s.io/v1alpha1"',
    );
    const noKind = await failure(["--config", "/c.yaml"], { "/c.yaml": "maxPods: 3\n" });
    expect(noKind.message).toContain("Object 'Kind' is missing");
  });

  it("reports a missing file and broken YAML by path", async () => {
    expect((await failure(["--config", "/nope.yaml"])).message).toBe(
      'failed to read kubelet config file "/nope.yaml", error: open /nope.yaml: no such file or directory',
    );
    const broken = await failure(["--config", "/c.yaml"], { "/c.yaml": `${HEADER}maxPods: [1\n` });
    expect(broken.message).toMatch(/^failed to load kubelet config file, path: \/c\.yaml, error: yaml: /);
  });

  it("validates ranges and collects every problem", async () => {
    const err = await failure(["--config", "/c.yaml"], {
      "/c.yaml": `${HEADER}maxPods: -1\nnodeLeaseDurationSeconds: -5\nclusterDNS: [dns.local]\nlogging:\n  format: xml\n`,
    });
    expect(err.code).toBe("InvalidConfig");
    expect(err.message).toBe(
      "failed to validate kubelet configuration, error: [invalid configuration: maxPods (--max-pods) -1 must not be a negative number, " +
        "invalid configuration: nodeLeaseDurationSeconds must be greater than 0, " +
        'invalid configuration: clusterDNS (--cluster-dns) "dns.local" is not a valid IP address, ' +
        'logging.format: Unsupported value: "xml": supported values: "json", "text"]',
    );
  });

  // Cases from upstream's validation_test.go (TestValidateKubeletConfiguration), same messages.
  it.each([
    ["maxPods: -1", "invalid configuration: maxPods (--max-pods) -1 must not be a negative number"],
    [
      "nodeLeaseDurationSeconds: -1",
      "invalid configuration: nodeLeaseDurationSeconds must be greater than 0",
    ],
    [
      "healthzPort: 65536",
      "invalid configuration: healthzPort (--healthz-port) 65536 must be between 1 and 65535, inclusive",
    ],
    ["port: 65536", "invalid configuration: port (--port) 65536 must be between 1 and 65535, inclusive"],
    [
      "nodeStatusMaxImages: -2",
      "invalid configuration: nodeStatusMaxImages (--node-status-max-images) -2 must be -1 or greater",
    ],
    [
      "kubeAPIBurst: -1",
      "invalid configuration: kubeAPIBurst (--kube-api-burst) -1 must not be a negative number",
    ],
    ["kubeAPIQPS: -1", "invalid configuration: kubeAPIQPS (--kube-api-qps) -1 must not be a negative number"],
    [
      "enforceNodeAllocatable: [invalid-enforce-node-allocatable]",
      'invalid configuration: option "invalid-enforce-node-allocatable" specified for enforceNodeAllocatable (--enforce-node-allocatable). Valid options are "pods", "system-reserved", "system-reserved-compressible", "kube-reserved", "kube-reserved-compressible", or "none"',
    ],
    [
      "enforceNodeAllocatable: [none, pods]",
      'invalid configuration: enforceNodeAllocatable (--enforce-node-allocatable) may not contain additional enforcements when "none" is specified',
    ],
    [
      "enforceNodeAllocatable: [system-reserved]",
      'invalid configuration: systemReservedCgroup (--system-reserved-cgroup) must be specified when "system-reserved" contained in enforceNodeAllocatable (--enforce-node-allocatable)',
    ],
    [
      "enforceNodeAllocatable: [kube-reserved]",
      'invalid configuration: kubeReservedCgroup (--kube-reserved-cgroup) must be specified when "kube-reserved" contained in enforceNodeAllocatable (--enforce-node-allocatable)',
    ],
    [
      "imageGCHighThresholdPercent: 101",
      "invalid configuration: imageGCHighThresholdPercent (--image-gc-high-threshold) 101 must be between 0 and 100, inclusive",
    ],
    [
      "imageGCLowThresholdPercent: 90",
      "invalid configuration: imageGCLowThresholdPercent (--image-gc-low-threshold) 90 must be less than imageGCHighThresholdPercent (--image-gc-high-threshold) 85",
    ],
    [
      "cgroupDriver: systemdd",
      'invalid configuration: cgroupDriver (--cgroup-driver) "systemdd" must be one of cgroupfs, systemd',
    ],
    [
      "cgroupRoot: /a/../b",
      'invalid configuration: cgroupRoot (--cgroup-root): cgroupRoot "/a/../b": ".." is not a valid cgroup name',
    ],
    [
      "allowedUnsafeSysctls: [vm.swappiness]",
      'invalid configuration: allowedUnsafeSysctls (--allowed-unsafe-sysctls): the sysctl "vm.swappiness" are not known to be namespaced',
    ],
  ])("rejects %s", async (line, message) => {
    const err = await failure(["--config", "/c.yaml"], { "/c.yaml": `${HEADER}${line}\n` });
    expect(err.message).toBe(`failed to validate kubelet configuration, error: ${message}`);
  });

  it("accepts healthzPort 0 (disabled) and reserved enforcement with its cgroup", async () => {
    const r = await run(["--config", "/c.yaml"], {
      "/c.yaml": `${HEADER}healthzPort: 0\nenforceNodeAllocatable: [pods, system-reserved]\nsystemReservedCgroup: /system.slice\n`,
    });
    expect(r.config.healthzPort).toBe(0);
    expect(r.config.enforceNodeAllocatable).toEqual(["pods", "system-reserved"]);
  });

  it("validates eviction settings with the eviction block's rules", async () => {
    const err = await failure(["--config", "/c.yaml"], {
      "/c.yaml": `${HEADER}evictionSoft:\n  memory.available: 1Gi\n`,
    });
    expect(err.message).toContain(
      "grace period must be specified for the soft eviction threshold memory.available",
    );
  });
});

describe("flags", () => {
  it("override the config file, as upstream's kubeletConfigFlagPrecedence", async () => {
    const r = await run(
      [
        "--config",
        "/c.yaml",
        "--max-pods=20",
        "--pod-manifest-path",
        "/manifests",
        "--cluster-dns=10.0.0.10,fd00::a",
        "--cluster-domain",
        "k8s.test",
        "--runtime-request-timeout",
        "30s",
        "--container-runtime-endpoint",
        "unix:///tmp/c.sock",
        "--register-node=false",
        "--register-with-taints",
        "role=edge:NoSchedule,gpu:NoExecute",
        "--eviction-hard",
        "memory.available<50Mi",
        "--eviction-soft=memory.available<1Gi",
        "--eviction-soft-grace-period=memory.available=1m30s",
        "--eviction-minimum-reclaim",
        "memory.available=10Mi",
        "-v",
        "4",
        "--logging-format=json",
      ],
      { "/c.yaml": `${HEADER}maxPods: 10\nstaticPodPath: /file\nevictionHard:\n  nodefs.available: 5%\n` },
    );
    expect(r.config).toMatchObject({
      maxPods: 20,
      staticPodPath: "/manifests",
      clusterDNS: ["10.0.0.10", "fd00::a"],
      clusterDomain: "k8s.test",
      runtimeRequestTimeout: "30s",
      containerRuntimeEndpoint: "unix:///tmp/c.sock",
      registerNode: false,
      registerWithTaints: [
        { key: "role", value: "edge", effect: "NoSchedule" },
        { key: "gpu", effect: "NoExecute" },
      ],
      // A map flag replaces the file's map.
      evictionHard: { "memory.available": "50Mi" },
      evictionSoft: { "memory.available": "1Gi" },
      evictionSoftGracePeriod: { "memory.available": "1m30s" },
      evictionMinimumReclaim: { "memory.available": "10Mi" },
      logging: { format: "json", verbosity: 4 },
    });
  });

  it("carry the node's identity: kubeconfig, hostname override, node IPs, labels", async () => {
    const r = await run([
      "--kubeconfig=/etc/kubelet.conf",
      "--hostname-override",
      "Worker-1",
      "--node-ip",
      "10.0.0.5,fd00::5",
      "--node-labels=zone=a,node.kubernetes.io/pool=edge",
      "--node-labels",
      "topology.kubernetes.io/zone=z1",
      "--root-dir=/tmp/kubelet",
    ]);
    expect(r.standalone).toBe(false);
    expect(r.flags.kubeconfig).toBe("/etc/kubelet.conf");
    expect(r.nodeName).toBe("worker-1");
    expect(r.flags.nodeIPs).toEqual(["10.0.0.5", "fd00::5"]);
    expect(r.flags.nodeLabels).toEqual({
      zone: "a",
      "node.kubernetes.io/pool": "edge",
      "topology.kubernetes.io/zone": "z1",
    });
    expect(r.flags.rootDir).toBe("/tmp/kubelet");
  });

  it("use pflag's error wording for unknown, valueless and mistyped flags", async () => {
    expect((await failure(["--max-pod=3"])).message).toBe(
      "failed to parse kubelet flag: unknown flag: --max-pod",
    );
    expect((await failure(["--kubeconfig"])).message).toBe(
      "failed to parse kubelet flag: flag needs an argument: --kubeconfig",
    );
    expect((await failure(["--max-pods", "lots"])).message).toBe(
      'failed to parse kubelet flag: invalid argument "lots" for "--max-pods" flag: strconv.ParseInt: parsing "lots": invalid syntax',
    );
    expect((await failure(["--register-node=maybe"])).message).toBe(
      'failed to parse kubelet flag: invalid argument "maybe" for "--register-node" flag: strconv.ParseBool: parsing "maybe": invalid syntax',
    );
    expect((await failure(["--runtime-request-timeout=10"])).message).toContain(
      'time: invalid duration "10"',
    );
    expect((await failure(["-x"])).message).toBe(
      "failed to parse kubelet flag: unknown shorthand flag: 'x' in -x",
    );
    expect((await failure(["run"])).message).toBe('failed to parse kubelet flag: unknown command "run"');
    expect((await failure(["--node-labels=novalue"])).message).toContain(
      "malformed pair, expect string=string",
    );
    expect((await failure(["--eviction-hard=memory.available>1Gi"])).message).toContain(
      "malformed pair, expect string<string",
    );
  });

  it("--help and --version win over everything else, before any file is read", async () => {
    const help = await resolveKubeletConfig(["--config=/missing", "--help"], files({}));
    expect(help.action).toBe("help");
    expect(help.action === "help" && help.text).toContain("--node-labels");
    expect((await resolveKubeletConfig(["-h"], files({}))).action).toBe("help");
    expect(await resolveKubeletConfig(["--version"], files({}))).toEqual({ action: "version", raw: false });
    expect(await resolveKubeletConfig(["--version=raw"], files({}))).toEqual({
      action: "version",
      raw: true,
    });
  });

  it("usage lists every flag with its default", () => {
    const text = usage();
    for (const name of [
      "config",
      "kubeconfig",
      "eviction-soft-grace-period",
      "logging-format",
      "version",
      "help",
    ])
      expect(text).toContain(`--${name}`);
    expect(text).toContain("(default 110)");
  });

  it("parseFlags reports the flags given, in order", () => {
    expect(parseFlags(["--v=2", "--max-pods", "3", "--"]).given).toEqual(["v", "max-pods"]);
  });

  it("validates node IPs and the node name", async () => {
    expect((await failure(["--node-ip=10.0.0.300"])).message).toContain(
      '"10.0.0.300" is not a valid IP address',
    );
    expect((await failure(["--node-ip=10.0.0.1,10.0.0.2"])).message).toContain("one IPv4 and one IPv6");
    expect((await failure(["--hostname-override=bad_name"])).message).toContain('node name "bad_name"');
  });
});

describe("--node-labels (ValidateKubeletFlags)", () => {
  it("refuses labels in kubernetes.io/k8s.io outside the allowed set, with upstream's message", async () => {
    const err = await failure([
      "--node-labels=node-role.kubernetes.io/worker=,app.kubernetes.io/name=x,zone=a",
    ]);
    expect(err.code).toBe("InvalidNodeLabels");
    expect(err.message).toBe(
      "failed to validate kubelet flags: unknown 'kubernetes.io' or 'k8s.io' labels specified with --node-labels: [app.kubernetes.io/name node-role.kubernetes.io/worker]\n" +
        "--node-labels in the 'kubernetes.io' namespace must begin with an allowed prefix (kubelet.kubernetes.io, node.kubernetes.io) " +
        "or be in the specifically allowed set (beta.kubernetes.io/arch, beta.kubernetes.io/instance-type, beta.kubernetes.io/os, " +
        "failure-domain.beta.kubernetes.io/region, failure-domain.beta.kubernetes.io/zone, kubernetes.io/arch, kubernetes.io/hostname, " +
        "kubernetes.io/os, node.kubernetes.io/instance-type, topology.kubernetes.io/region, topology.kubernetes.io/zone)",
    );
  });

  // Cases from upstream's options_test.go TestValidateKubeletFlags.
  it.each([
    [
      "Invalid kubernetes.io label",
      { "beta.kubernetes.io/metadata-proxy-ready": "true" },
      "unknown 'kubernetes.io'",
    ],
    [
      "Valid label outside of kubernetes.io and k8s.io",
      { "cloud.google.com/metadata-proxy-ready": "true" },
      undefined,
    ],
    ["Empty label list", {}, undefined],
    [
      "Invalid label",
      { "cloud.google.com/repository": "kubernetes/kubernetes" },
      "invalid node labels: 'kubernetes/kubernetes'",
    ],
  ])("%s", (_name, labels, error) => {
    if (error === undefined) expect(() => validateNodeLabels(labels)).not.toThrow();
    else expect(() => validateNodeLabels(labels)).toThrow(error);
  });

  it.each([
    ["kubernetes.io/hostname", true],
    ["topology.kubernetes.io/zone", true],
    ["node.kubernetes.io/anything", true],
    ["pool.node.kubernetes.io/anything", true],
    ["kubelet.kubernetes.io/x", true],
    ["node-role.kubernetes.io/worker", false],
    ["example.k8s.io/x", false],
  ])("isKubeletLabel(%s) = %s", (key, allowed) => {
    expect(isKubeletLabel(key)).toBe(allowed);
  });
});

describe("parseTaints (--register-with-taints)", () => {
  it("parses key=value:Effect and key:Effect", () => {
    expect(parseTaints("dedicated-for=user1:NoExecute,foo:NoSchedule")).toEqual([
      { key: "dedicated-for", value: "user1", effect: "NoExecute" },
      { key: "foo", effect: "NoSchedule" },
    ]);
    expect(parseTaints("")).toEqual([]);
  });

  it.each([
    ["foo", "invalid taint spec: foo"],
    ["foo=bar:NoSometimes", "invalid taint effect: NoSometimes, unsupported taint effect"],
    ["a=b=c:NoSchedule", "invalid taint spec: a=b=c:NoSchedule"],
    ["bad key:NoSchedule", "invalid taint spec: bad key:NoSchedule"],
    ["foo:NoSchedule,foo=x:NoSchedule", "duplicated taints with the same key and effect"],
  ])("rejects %s", (spec, message) => {
    expect(() => parseTaints(spec)).toThrow(message);
  });
});

describe("decodeKubeletConfiguration", () => {
  it("knows every field the defaults name", () => {
    const { apiVersion, kind, ...rest } = defaultKubeletConfiguration();
    const doc = { apiVersion, kind, ...rest, evictionHard: {} };
    expect(() => decodeKubeletConfiguration(JSON.stringify(doc))).not.toThrow();
  });
});
