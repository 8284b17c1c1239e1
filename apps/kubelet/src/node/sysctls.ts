// The kubelet's sysctl admission (pkg/kubelet/sysctl: allowlist.go, safe_sysctls.go;
// component-helpers/node/util/sysctl): a pod may set only namespaced sysctls that are on the safe
// list or match --allowed-unsafe-sysctls, and none of a namespace it shares with the host.
import { release } from "node:os";
import type { Pod } from "../api.js";
import type { AdmitResult } from "../kubelet.js";

/** Rejection reason of a forbidden sysctl (sysctl.ForbiddenReason). */
export const SYSCTL_FORBIDDEN = "SysctlForbidden";

type Namespace = "IPC" | "Net";

/** Safe sysctls with the kernel version each needs (safe_sysctls.go, 1.32). */
const SAFE_SYSCTLS: readonly { name: string; kernel?: [number, number] }[] = [
  { name: "kernel.shm_rmid_forced" },
  { name: "net.ipv4.ip_local_port_range" },
  { name: "net.ipv4.tcp_syncookies" },
  { name: "net.ipv4.ping_group_range" },
  { name: "net.ipv4.ip_unprivileged_port_start" },
  { name: "net.ipv4.ip_local_reserved_ports", kernel: [3, 16] },
  { name: "net.ipv4.tcp_keepalive_time", kernel: [4, 5] },
  { name: "net.ipv4.tcp_fin_timeout", kernel: [4, 6] },
  { name: "net.ipv4.tcp_keepalive_intvl", kernel: [4, 5] },
  { name: "net.ipv4.tcp_keepalive_probes", kernel: [4, 5] },
  { name: "net.ipv4.tcp_rmem", kernel: [4, 15] },
  { name: "net.ipv4.tcp_wmem", kernel: [4, 15] },
];

/** The namespace a sysctl lives in (NamespacedBy), undefined when not known to be namespaced. */
export function sysctlNamespace(name: string): Namespace | undefined {
  if (name === "kernel.sem") return "IPC";
  if (name.startsWith("kernel.shm") || name.startsWith("kernel.msg") || name.startsWith("fs.mqueue."))
    return "IPC";
  if (name.startsWith("net.")) return "Net";
  return undefined;
}

/** `net/ipv4/conf/eth0.100/rp_filter` → `net.ipv4.conf.eth0/100.rp_filter` (ConvertSysctlVariableToDotsSeparator). */
export function sysctlDotted(name: string): string {
  const sep = name.search(/[./]/);
  if (sep < 0 || name[sep] === ".") return name;
  return name.replace(/[./]/g, (c) => (c === "." ? "/" : "."));
}

// policy validation's IsValidSysctlPattern: segments of [a-z0-9] with inner - and _, separated by
// . or /, at most 253 characters, optionally ending in *.
const SEGMENT = "[a-z0-9]([-_a-z0-9]*[a-z0-9])?";
const PATTERN = new RegExp(`^(${SEGMENT}[./])*(${SEGMENT}(\\*)?|\\*)$`);

function kernelAtLeast(kernel: string, [major, minor]: [number, number]): boolean {
  const m = /^(\d+)\.(\d+)/.exec(kernel);
  if (!m) return false;
  const [maj, min] = [Number(m[1]), Number(m[2])];
  return maj > major || (maj === major && min >= minor);
}

/** The safe sysctls available on `kernel` (os.release() format). */
export function safeSysctls(kernel = release()): string[] {
  return SAFE_SYSCTLS.filter((s) => !s.kernel || kernelAtLeast(kernel, s.kernel)).map((s) => s.name);
}

/** Checks pods' sysctls against the safe list plus the node's allowed unsafe patterns. */
export interface SysctlAllowlist {
  admit(pod: Pod): AdmitResult;
}

/**
 * Builds the allowlist from the safe sysctls and `allowedUnsafeSysctls` (names or `prefix*`).
 * @throws RangeError for a pattern that is malformed or not namespaced, with upstream's wording.
 */
export function createSysctlAllowlist(
  allowedUnsafeSysctls: readonly string[] = [],
  kernel = release(),
): SysctlAllowlist {
  const exact = new Map<string, Namespace>();
  const prefixes = new Map<string, Namespace>();
  for (const raw of [...safeSysctls(kernel), ...allowedUnsafeSysctls]) {
    if (raw.length > 253 || !PATTERN.test(raw))
      throw new RangeError(
        `sysctl ${JSON.stringify(raw)} must have at most 253 characters and match regex ${PATTERN.source}`,
      );
    const s = sysctlDotted(raw);
    if (s.endsWith("*")) {
      const prefix = s.slice(0, -1);
      const ns = sysctlNamespace(prefix);
      if (!ns) throw new RangeError(`the sysctls ${JSON.stringify(s)} are not known to be namespaced`);
      prefixes.set(prefix, ns);
    } else {
      const ns = sysctlNamespace(s);
      if (!ns) throw new RangeError(`the sysctl ${JSON.stringify(s)} are not known to be namespaced`);
      exact.set(s, ns);
    }
  }
  function validate(name: string, hostNet: boolean, hostIPC: boolean): string | undefined {
    const s = sysctlDotted(name);
    let ns = exact.get(s);
    if (ns === undefined) {
      for (const [p, n] of prefixes)
        if (s.startsWith(p)) {
          ns = n;
          break;
        }
    }
    if (ns === undefined) return `${JSON.stringify(s)} not allowlisted`;
    if ((ns === "IPC" && hostIPC) || (ns === "Net" && hostNet))
      return `${JSON.stringify(s)} not allowed with host ${ns} enabled`;
    return undefined;
  }
  return {
    admit(pod) {
      for (const sc of pod.spec.securityContext?.sysctls ?? []) {
        const err = validate(sc.name, pod.spec.hostNetwork === true, pod.spec.hostIPC === true);
        if (err) return { admit: false, reason: SYSCTL_FORBIDDEN, message: `forbidden sysctl: ${err}` };
      }
      return { admit: true };
    },
  };
}
