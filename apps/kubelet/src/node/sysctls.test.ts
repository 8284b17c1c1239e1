import { describe, expect, it } from "vitest";
import type { Pod } from "../api.js";
import { createSysctlAllowlist, SYSCTL_FORBIDDEN, safeSysctls, sysctlDotted } from "./sysctls.js";

const pod = (sysctls: string[], spec: Partial<Pod["spec"]> = {}): Pod => ({
  metadata: { name: "p", namespace: "default", uid: "u" },
  spec: {
    containers: [{ name: "c" }],
    securityContext: { sysctls: sysctls.map((name) => ({ name, value: "1" })) },
    ...spec,
  },
});

// Cases after upstream's pkg/kubelet/sysctl allowlist_test.go and safe_sysctls_test.go.
describe("sysctl admission", () => {
  it("admits safe sysctls, in dotted or slashed form", () => {
    const allow = createSysctlAllowlist([], "6.1.0-18-amd64");
    expect(
      allow.admit(pod(["kernel.shm_rmid_forced", "net.ipv4.ip_local_port_range", "net/ipv4/tcp_syncookies"])),
    ).toEqual({
      admit: true,
    });
    expect(allow.admit(pod([]))).toEqual({ admit: true });
  });

  it("rejects other sysctls with upstream's reason and message", () => {
    const allow = createSysctlAllowlist([], "6.1.0");
    expect(allow.admit(pod(["net.core.somaxconn"]))).toEqual({
      admit: false,
      reason: SYSCTL_FORBIDDEN,
      message: 'forbidden sysctl: "net.core.somaxconn" not allowlisted',
    });
    expect(allow.admit(pod(["kernel.msgmax"])).admit).toBe(false);
  });

  it("admits --allowed-unsafe-sysctls names and prefix patterns", () => {
    const allow = createSysctlAllowlist(["net.core.somaxconn", "kernel.msg*"], "6.1.0");
    expect(allow.admit(pod(["net.core.somaxconn", "kernel.msgmax", "kernel.msgmnb"]))).toEqual({
      admit: true,
    });
    expect(allow.admit(pod(["kernel.sem"])).admit).toBe(false);
  });

  it("forbids sysctls of a namespace the pod shares with the host", () => {
    const allow = createSysctlAllowlist(["kernel.sem"], "6.1.0");
    expect(allow.admit(pod(["net.ipv4.tcp_syncookies"], { hostNetwork: true }))).toEqual({
      admit: false,
      reason: SYSCTL_FORBIDDEN,
      message: 'forbidden sysctl: "net.ipv4.tcp_syncookies" not allowed with host Net enabled',
    });
    expect(allow.admit(pod(["kernel.sem"], { hostIPC: true }))).toEqual({
      admit: false,
      reason: SYSCTL_FORBIDDEN,
      message: 'forbidden sysctl: "kernel.sem" not allowed with host IPC enabled',
    });
    expect(allow.admit(pod(["kernel.sem"], { hostNetwork: true }))).toEqual({ admit: true });
  });

  it("refuses allowlist patterns that are malformed or not namespaced", () => {
    expect(() => createSysctlAllowlist(["vm.swappiness"])).toThrow(
      'the sysctl "vm.swappiness" are not known to be namespaced',
    );
    expect(() => createSysctlAllowlist(["kernel.*"])).toThrow(
      'the sysctls "kernel.*" are not known to be namespaced',
    );
    expect(() => createSysctlAllowlist(["net..x"])).toThrow(
      /must have at most 253 characters and match regex/,
    );
    expect(() => createSysctlAllowlist(["net.*"])).not.toThrow();
  });

  it("drops safe sysctls the kernel is too old for", () => {
    expect(safeSysctls("4.4.0")).not.toContain("net.ipv4.tcp_keepalive_time");
    expect(safeSysctls("4.5.0")).toContain("net.ipv4.tcp_keepalive_time");
    expect(safeSysctls("4.14.1")).not.toContain("net.ipv4.tcp_rmem");
    expect(safeSysctls("5.10.0")).toContain("net.ipv4.tcp_wmem");
  });

  it("converts slash-separated names like ConvertSysctlVariableToDotsSeparator", () => {
    expect(sysctlDotted("net/ipv4/conf/eth0.100/rp_filter")).toBe("net.ipv4.conf.eth0/100.rp_filter");
    expect(sysctlDotted("net.ipv4.conf.eth0/100.rp_filter")).toBe("net.ipv4.conf.eth0/100.rp_filter");
  });
});
