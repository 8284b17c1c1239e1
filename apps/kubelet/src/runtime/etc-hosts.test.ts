import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import type { Pod } from "../api.js";
import {
  ensureEtcHosts,
  hostNetworkHostsFile,
  managedHostsFile,
  podHostnameAndDomain,
  wantsManagedHosts,
} from "./etc-hosts.js";

const BOILERPLATE =
  "# Kubernetes-managed hosts file.\n" +
  "127.0.0.1\tlocalhost\n" +
  "::1\tlocalhost ip6-localhost ip6-loopback\n" +
  "fe00::0\tip6-localnet\n" +
  "fe00::0\tip6-mcastprefix\n" +
  "fe00::1\tip6-allnodes\n" +
  "fe00::2\tip6-allrouters\n";

const pod = (spec: Partial<Pod["spec"]> = {}, name = "web"): Pod => ({
  metadata: { name, namespace: "shop", uid: "0f4c2b7e-1d2a-4c1b-9d3e-5a6b7c8d9e0f" },
  spec: { containers: [{ name: "app", image: "busybox" }], ...spec },
});

describe("managedHostsFile", () => {
  // The shapes of upstream's managedHostsFileContent, as the Kubernetes docs show them with
  // `kubectl exec ... cat /etc/hosts` (tabs, the blank line before the HostAliases section).
  it("lists localhost, then each pod IP with the hostname", () => {
    expect(managedHostsFile(["10.244.1.5"], "web", "")).toBe(`${BOILERPLATE}10.244.1.5\tweb\n`);
  });

  it("puts the FQDN first when the pod has a subdomain, one line per IP family", () => {
    expect(managedHostsFile(["10.244.1.5", "fd00::5"], "web-0", "sub.shop.svc.cluster.local")).toBe(
      `${BOILERPLATE}10.244.1.5\tweb-0.sub.shop.svc.cluster.local\tweb-0\nfd00::5\tweb-0.sub.shop.svc.cluster.local\tweb-0\n`,
    );
  });

  it("appends host aliases after a blank line, all names of one IP on its line", () => {
    const text = managedHostsFile(["10.244.1.5"], "web", "", [
      { ip: "127.0.0.1", hostnames: ["foo.local", "bar.local"] },
      { ip: "10.1.2.3", hostnames: ["foo.remote"] },
    ]);
    expect(text).toBe(
      `${BOILERPLATE}10.244.1.5\tweb\n\n# Entries added by HostAliases.\n127.0.0.1\tfoo.local\tbar.local\n10.1.2.3\tfoo.remote\n`,
    );
  });

  it("refuses aliases that would break out of their line", () => {
    expect(() =>
      managedHostsFile(["10.0.0.1"], "web", "", [{ ip: "1.2.3.4\n6.6.6.6 evil", hostnames: [] }]),
    ).toThrow(/spec\.hostAliases\[0\]\.ip: .* must be a valid IP address/);
    expect(() =>
      managedHostsFile(["10.0.0.1"], "web", "", [
        { ip: "1.2.3.4", hostnames: ["ok", "bad name\n6.6.6.6\tx"] },
      ]),
    ).toThrow(/spec\.hostAliases\[0\]\.hostnames\[1\]/);
  });
});

describe("hostNetworkHostsFile", () => {
  it("is the node's file under the host-network header, then the aliases", () => {
    expect(hostNetworkHostsFile("127.0.0.1\tlocalhost\n", [{ ip: "10.1.2.3", hostnames: ["db"] }])).toBe(
      "# Kubernetes-managed hosts file (host network).\n127.0.0.1\tlocalhost\n\n# Entries added by HostAliases.\n10.1.2.3\tdb\n",
    );
  });
});

describe("podHostnameAndDomain", () => {
  it("uses spec.hostname over the pod name, and subdomain.namespace.svc.clusterDomain", () => {
    expect(podHostnameAndDomain(pod({ hostname: "web-0", subdomain: "sub" }), "cluster.local")).toEqual({
      hostname: "web-0",
      domain: "sub.shop.svc.cluster.local",
    });
    expect(podHostnameAndDomain(pod(), "cluster.local")).toEqual({ hostname: "web", domain: "" });
  });

  it("cuts a long pod name to 63 characters without a trailing '-' or '.'", () => {
    const name = `${"a".repeat(62)}-bcd`;
    expect(podHostnameAndDomain(pod({}, name), "cluster.local").hostname).toBe("a".repeat(62));
  });

  it("refuses a hostname or subdomain that is not a DNS label, as GeneratePodHostNameAndDomain does", () => {
    expect(() => podHostnameAndDomain(pod({ hostname: "Web_0" }), "c")).toThrow(
      /pod Hostname "Web_0" is not a valid DNS label/,
    );
    expect(() => podHostnameAndDomain(pod({ subdomain: "a.b" }), "c")).toThrow(
      /pod Subdomain "a.b" is not a valid DNS label/,
    );
  });
});

describe("ensureEtcHosts", () => {
  let root: string | undefined;
  afterEach(async () => {
    if (root) await rm(root, { recursive: true, force: true });
    root = undefined;
  });

  it("writes <root>/pods/<uid>/etc-hosts 0644 and returns its mount", async () => {
    root = await mkdtemp(join(tmpdir(), "kn-etc-hosts-"));
    const p = pod();
    const mount = await ensureEtcHosts({
      rootDir: root,
      pod: p,
      podIPs: ["10.244.1.5"],
      clusterDomain: "cluster.local",
    });
    const file = join(root, "pods", p.metadata.uid as string, "etc-hosts");
    expect(mount).toEqual({
      containerPath: "/etc/hosts",
      hostPath: file,
      readonly: false,
      selinuxRelabel: true,
    });
    expect(await readFile(file, "utf8")).toBe(`${BOILERPLATE}10.244.1.5\tweb\n`);
    expect((await stat(file)).mode & 0o777).toBe(0o644);
  });

  it("mounts nothing while the pod has no IP, unless it is on the host network", async () => {
    root = await mkdtemp(join(tmpdir(), "kn-etc-hosts-"));
    expect(
      await ensureEtcHosts({ rootDir: root, pod: pod(), podIPs: [], clusterDomain: "c" }),
    ).toBeUndefined();
    const host = await ensureEtcHosts({
      rootDir: root,
      pod: pod({ hostNetwork: true }),
      podIPs: [],
      clusterDomain: "c",
    });
    expect(await readFile(host?.hostPath as string, "utf8")).toMatch(
      /^# Kubernetes-managed hosts file \(host network\)\.\n/,
    );
  });

  it("refuses a pod UID that would name another directory", async () => {
    root = await mkdtemp(join(tmpdir(), "kn-etc-hosts-"));
    const p = pod();
    p.metadata.uid = "../../etc";
    await expect(
      ensureEtcHosts({ rootDir: root, pod: p, podIPs: ["10.0.0.1"], clusterDomain: "c" }),
    ).rejects.toThrow(/pod UID "..\/..\/etc" is not usable as a directory name/);
  });
});

describe("wantsManagedHosts", () => {
  it("is false for a container that mounts its own /etc/hosts", () => {
    expect(wantsManagedHosts({ name: "a", image: "x" })).toBe(true);
    expect(
      wantsManagedHosts({ name: "a", image: "x", volumeMounts: [{ name: "h", mountPath: "/etc/hosts" }] }),
    ).toBe(false);
  });
});
