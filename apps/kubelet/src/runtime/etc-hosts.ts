// The kubelet-managed /etc/hosts of a pod (kubelet_pods.go makeMounts / makeHostsMount /
// ensureHostsFile, 1.32). Every container of a pod with IPs gets `<root>/pods/<uid>/etc-hosts`
// bind-mounted at /etc/hosts, unless one of its volume mounts targets /etc/hosts itself. The file is
// rewritten before each container start, so a restarted container sees the pod's current aliases.
import { chmod, mkdir, readFile, writeFile } from "node:fs/promises";
import { isIP } from "node:net";
import { join } from "node:path";
import { validateDNS1123Label, validateDNS1123Subdomain } from "@kubenode/kube";
import type { Container, Pod } from "../api.js";
import { podDirectory } from "../pod-dirs.js";

export const ETC_HOSTS_PATH = "/etc/hosts";
const MANAGED_HEADER = "# Kubernetes-managed hosts file.\n";
const MANAGED_HEADER_HOST_NETWORK = "# Kubernetes-managed hosts file (host network).\n";

/** spec.hostAliases entries. */
export interface HostAlias {
  ip: string;
  hostnames?: string[];
}

/** The pod's short hostname and DNS domain (GeneratePodHostNameAndDomain). */
export function podHostnameAndDomain(pod: Pod, clusterDomain: string): { hostname: string; domain: string } {
  const { hostname: wanted, subdomain } = pod.spec;
  if (wanted) {
    const problems = validateDNS1123Label(wanted);
    if (problems.length > 0)
      throw new Error(
        `pod Hostname ${JSON.stringify(wanted)} is not a valid DNS label: ${problems.join(";")}`,
      );
  }
  let hostname = wanted || pod.metadata.name || "";
  // truncatePodHostnameIfNeeded: 63 characters, without a trailing '-' or '.'.
  if (hostname.length > 63) hostname = hostname.slice(0, 63).replace(/[-.]+$/, "");
  let domain = "";
  if (subdomain) {
    const problems = validateDNS1123Label(subdomain);
    if (problems.length > 0)
      throw new Error(
        `pod Subdomain ${JSON.stringify(subdomain)} is not a valid DNS label: ${problems.join(";")}`,
      );
    domain = `${subdomain}.${pod.metadata.namespace ?? "default"}.svc.${clusterDomain}`;
  }
  return { hostname, domain };
}

/**
 * The aliases as hosts lines. The API server validates them (an IP, DNS-1123 subdomains); a static
 * pod's file does not pass through it, and these strings end up as lines of a file, so they are
 * checked again here.
 */
function aliasLines(aliases: readonly HostAlias[]): string {
  if (aliases.length === 0) return "";
  const lines = aliases.map((a, i) => {
    if (isIP(a.ip) === 0)
      throw new Error(`spec.hostAliases[${i}].ip: ${JSON.stringify(a.ip)} must be a valid IP address`);
    const names = a.hostnames ?? [];
    for (const [j, name] of names.entries()) {
      const problems = validateDNS1123Subdomain(name);
      if (problems.length > 0)
        throw new Error(
          `spec.hostAliases[${i}].hostnames[${j}]: ${JSON.stringify(name)}: ${problems.join(";")}`,
        );
    }
    return `${a.ip}\t${names.join("\t")}\n`;
  });
  return `\n# Entries added by HostAliases.\n${lines.join("")}`;
}

/** The hosts file of a pod on its own network: localhost lines, the pod's IPs, then its aliases. */
export function managedHostsFile(
  podIPs: readonly string[],
  hostname: string,
  domain: string,
  aliases: readonly HostAlias[] = [],
): string {
  const own = podIPs.map((ip) =>
    domain ? `${ip}\t${hostname}.${domain}\t${hostname}\n` : `${ip}\t${hostname}\n`,
  );
  return (
    MANAGED_HEADER +
    "127.0.0.1\tlocalhost\n" +
    "::1\tlocalhost ip6-localhost ip6-loopback\n" +
    "fe00::0\tip6-localnet\n" +
    "fe00::0\tip6-mcastprefix\n" +
    "fe00::1\tip6-allnodes\n" +
    "fe00::2\tip6-allrouters\n" +
    own.join("") +
    aliasLines(aliases)
  );
}

/** The hosts file of a host-network pod: the node's file under its own header, then the aliases. */
export function hostNetworkHostsFile(nodeHosts: string, aliases: readonly HostAlias[] = []): string {
  return MANAGED_HEADER_HOST_NETWORK + nodeHosts + aliasLines(aliases);
}

/** Whether the container gets the managed file: it has no volume mount of its own at /etc/hosts. */
export function wantsManagedHosts(container: Container): boolean {
  return !(container.volumeMounts ?? []).some((m) => m.mountPath === ETC_HOSTS_PATH);
}

/** The CRI mount of the file (`k8s-managed-etc-hosts`: read-write, SELinux relabel). */
export interface HostsMount {
  containerPath: string;
  hostPath: string;
  readonly: false;
  selinuxRelabel: true;
}

export interface EtcHostsRequest {
  rootDir: string;
  pod: Pod;
  /** The sandbox's IPs; empty for a host-network pod (upstream then uses the node's IPs). */
  podIPs: readonly string[];
  clusterDomain: string;
}

/**
 * Writes `<root>/pods/<uid>/etc-hosts` (0644) and returns its mount, or undefined when the pod has
 * no IP yet and is not on the host network (shouldMountHostsFile).
 */
export async function ensureEtcHosts(req: EtcHostsRequest): Promise<HostsMount | undefined> {
  const { pod } = req;
  const hostNetwork = pod.spec.hostNetwork === true;
  if (!hostNetwork && req.podIPs.length === 0) return undefined;
  const aliases = (pod.spec.hostAliases as HostAlias[] | undefined) ?? [];
  const content = hostNetwork
    ? hostNetworkHostsFile(await readFile(ETC_HOSTS_PATH, "utf8"), aliases)
    : (() => {
        const { hostname, domain } = podHostnameAndDomain(pod, req.clusterDomain);
        return managedHostsFile(req.podIPs, hostname, domain, aliases);
      })();
  const podDir = podDirectory(req.rootDir, pod.metadata.uid);
  await mkdir(podDir, { recursive: true, mode: 0o750 });
  const hostPath = join(podDir, "etc-hosts");
  await writeFile(hostPath, content, { mode: 0o644 });
  await chmod(hostPath, 0o644);
  return { containerPath: ETC_HOSTS_PATH, hostPath, readonly: false, selinuxRelabel: true };
}
