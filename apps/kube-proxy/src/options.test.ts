import { describe, expect, it } from "vitest";
import { defaultConfig, parseConfigText, validateConfig } from "./config.js";
import { ProxyError } from "./errors.js";
import { parseFlags, usage } from "./flags.js";
import { loadOptions } from "./options.js";

function files(map: Record<string, string>) {
  return (p: string) => {
    const t = map[p];
    if (t === undefined) throw new Error(`ENOENT: no such file ${p}`);
    return t;
  };
}

function errorOf(fn: () => unknown): ProxyError {
  try {
    fn();
  } catch (err) {
    if (err instanceof ProxyError) return err;
    throw err;
  }
  throw new Error("expected an error");
}

describe("defaults", () => {
  it("mirror upstream v1alpha1 defaults", () => {
    const r = validateConfig(defaultConfig());
    expect(r.mode).toBe("iptables");
    expect(r.syncPeriodMs).toBe(30_000);
    expect(r.minSyncPeriodMs).toBe(1_000);
    expect(r.masqueradeBit).toBe(14);
    expect(r.config.healthzBindAddress).toBe("0.0.0.0:10256");
    expect(r.config.metricsBindAddress).toBe("127.0.0.1:10249");
    expect(r.conntrack).toMatchObject({
      maxPerCore: 32768,
      min: 131072,
      tcpEstablishedTimeoutMs: 86_400_000,
    });
  });
});

describe("flags", () => {
  it("accepts upstream flag spellings", () => {
    const o = loadOptions([
      "--kubeconfig=/k.yaml",
      "--hostname-override",
      "node-a",
      "--proxy-mode=nftables",
      "--cluster-cidr=10.244.0.0/16,fd00:10::/56",
      "--masquerade-all",
      "--nodeport-addresses=10.0.0.0/8,192.168.0.0/16",
      "--healthz-bind-address=127.0.0.1:20256",
      "--metrics-bind-address=",
      "--iptables-min-sync-period=2s",
      "--iptables-sync-period=1m",
      "--conntrack-max-per-core=0",
      "--v=4",
    ]);
    const r = o.resolved;
    expect(r.mode).toBe("nftables");
    expect(r.config.clientConnection.kubeconfig).toBe("/k.yaml");
    expect(r.config.hostnameOverride).toBe("node-a");
    expect(r.clusterCIDRs).toEqual(["10.244.0.0/16", "fd00:10::/56"]);
    expect(r.masqueradeAll).toBe(true);
    expect(r.config.nodePortAddresses).toEqual(["10.0.0.0/8", "192.168.0.0/16"]);
    expect(r.config.metricsBindAddress).toBe("");
    expect(r.minSyncPeriodMs).toBe(2000);
    expect(r.syncPeriodMs).toBe(60_000);
    expect(r.conntrack.maxPerCore).toBe(0);
    expect(r.config.logging.verbosity).toBe(4);
  });

  it("reports command flags", () => {
    const f = parseFlags(["--cleanup", "--version=false", "-h"]);
    expect(f).toMatchObject({ cleanup: true, version: false, help: true });
    expect(usage()).toContain("--proxy-mode");
  });

  it("names an unknown flag", () => {
    expect(errorOf(() => parseFlags(["--proxy-mod=iptables"])).message).toBe("unknown flag: --proxy-mod");
  });

  it("names the flag with a bad value", () => {
    const e = errorOf(() => parseFlags(["--iptables-sync-period=30"]));
    expect(e.field).toBe("--iptables-sync-period");
    expect(e.message).toContain("is not a duration");
    expect(errorOf(() => parseFlags(["--masquerade-all=maybe"])).field).toBe("--masquerade-all");
    expect(errorOf(() => parseFlags(["--kubeconfig"])).message).toContain("flag needs an argument");
  });
});

describe("config file", () => {
  const yaml = `
apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
mode: nftables
clusterCIDR: 10.244.0.0/16
nftables:
  minSyncPeriod: 500ms
  syncPeriod: 10s
conntrack:
  tcpBeLiberal: true
someFutureField: 1
`;

  it("loads over the defaults and warns about unknown fields", () => {
    const o = loadOptions(["--config=/c.yaml"], files({ "/c.yaml": yaml }));
    expect(o.resolved.mode).toBe("nftables");
    expect(o.resolved.minSyncPeriodMs).toBe(500);
    expect(o.resolved.syncPeriodMs).toBe(10_000);
    expect(o.resolved.conntrack.tcpBeLiberal).toBe(true);
    expect(o.resolved.config.iptables.syncPeriod).toBe("30s");
    expect(o.warnings.join("\n")).toContain("someFutureField");
  });

  it("lets only logging flags and --hostname-override override the file, like upstream", () => {
    const o = loadOptions(
      ["--config", "/c.yaml", "--hostname-override=n1", "--v=3", "--proxy-mode=iptables"],
      files({ "/c.yaml": yaml }),
    );
    expect(o.resolved.mode).toBe("nftables");
    expect(o.resolved.config.hostnameOverride).toBe("n1");
    expect(o.resolved.config.logging.verbosity).toBe(3);
    expect(o.warnings.join("\n")).toContain("--proxy-mode");
  });

  it("names the field of a wrongly typed value", () => {
    const e = errorOf(() => parseConfigText(`${yaml}\niptables:\n  masqueradeBit: "high"\n`));
    expect(e.field).toBe("iptables.masqueradeBit");
    expect(e.message).toContain("must be a number");
  });

  it("rejects the wrong kind or apiVersion", () => {
    expect(errorOf(() => parseConfigText("apiVersion: v1\nkind: ConfigMap\n")).field).toBe("kind");
    expect(
      errorOf(() =>
        parseConfigText("apiVersion: kubeproxy.config.k8s.io/v1beta9\nkind: KubeProxyConfiguration\n"),
      ).field,
    ).toBe("apiVersion");
    expect(errorOf(() => parseConfigText("a: [")).code).toBe("InvalidConfig");
  });

  it("names a missing file", () => {
    const e = errorOf(() => loadOptions(["--config=/missing.yaml"], files({})));
    expect(e.field).toBe("--config");
    expect(e.message).toContain("/missing.yaml");
  });
});

describe("validation", () => {
  const cases: [string, string[], string][] = [
    ["mode", ["--proxy-mode=userspace"], "mode: must be one of"],
    [
      "minSyncPeriod above syncPeriod",
      ["--iptables-min-sync-period=1m", "--iptables-sync-period=30s"],
      "iptables.syncPeriod: must be greater than or equal to iptables.minSyncPeriod",
    ],
    ["zero syncPeriod", ["--sync-period=0s"], "iptables.syncPeriod: must be greater than 0"],
    ["masquerade bit", ["--iptables-masquerade-bit=32"], "iptables.masqueradeBit: must be within [0, 31]"],
    ["cluster CIDR", ["--cluster-cidr=10.0.0.0/33"], 'clusterCIDR: invalid CIDR "10.0.0.0/33"'],
    [
      "two v4 cluster CIDRs",
      ["--cluster-cidr=10.0.0.0/8,11.0.0.0/8"],
      "clusterCIDR: at most one CIDR per IP family",
    ],
    ["healthz address", ["--healthz-bind-address=10256"], "healthzBindAddress: must be IP:port"],
    ["metrics address", ["--metrics-bind-address=localhost:10249"], "metricsBindAddress: must be IP:port"],
    ["nodeport addresses", ["--nodeport-addresses=10.0.0.1"], "nodePortAddresses[0]: must be a CIDR"],
    ["oom score", ["--oom-score-adj=2000"], "oomScoreAdj: must be within [-1000, 1000]"],
    ["conntrack", ["--conntrack-min=-1"], "conntrack.min: must be greater than or equal to 0"],
    ["bind address", ["--bind-address=nowhere"], "bindAddress: not a valid IP address"],
    ["log format", ["--logging-format=xml"], 'logging.format: must be "text" or "json"'],
  ];
  for (const [what, argv, message] of cases) {
    it(`names the field: ${what}`, () => {
      const e = errorOf(() => loadOptions(argv));
      expect(e.code).toBe("InvalidConfig");
      expect(e.message).toContain(message);
    });
  }

  it("lists every bad field at once", () => {
    const e = errorOf(() => loadOptions(["--proxy-mode=bogus", "--oom-score-adj=5000"]));
    expect(e.message).toContain("mode:");
    expect(e.message).toContain("oomScoreAdj:");
    expect(e.field).toBe("mode");
  });
});
