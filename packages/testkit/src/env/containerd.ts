import { type ChildProcess, spawn } from "node:child_process";
import { createHash, randomInt } from "node:crypto";
import { createWriteStream, existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, join } from "node:path";
import { TestkitError } from "./errors.js";
import { run, terminate, waitFor } from "./exec.js";
import { ensureHostPackages } from "./host-packages.js";
import { buildTestImages, type OciImage, type TestImages } from "./images.js";
import { INSTANCE_DIR, instanceDir, instanceOwner } from "./paths.js";
import { isOwnerAlive, mountsUnder, pidsWithCmdline, unmountLazily } from "./processes.js";

export interface ContainerdOptions {
  /** Give pods a CNI network (bridge + host-local IPAM + portmap) of their own. Default true. */
  cni?: boolean | undefined;
  /** Import the test images (busybox, pause) into the `k8s.io` namespace. Default true. */
  images?: boolean | undefined;
  /** How long to wait for the socket to answer. Default 30 s. */
  startTimeoutMs?: number | undefined;
  /**
   * Run the daemon (and so its CNI plugins: the pod bridge, its routes and any portmap rules) in
   * this named network namespace (`/run/netns/<name>`, e.g. a network lab host's `netns`) instead of
   * the host's: a "node" whose pod network never touches the host. Only the network namespace
   * changes (`nsenter --net`); mounts stay the host's, so teardown finds them. Default: the host's.
   */
  netns?: string | undefined;
  /**
   * The pod subnet, an IPv4 CIDR such as `10.244.1.0/24` (each node of a multi-node setup gets its
   * own). Default: a free /24 in 10.128.0.0/10.
   */
  podSubnet?: string | undefined;
}

/** A private containerd: own root, state, socket, runc root, CNI bridge and subnet. */
export interface Containerd {
  /** CRI endpoint, `unix:///…/containerd.sock`. */
  readonly endpoint: string;
  readonly socketPath: string;
  /** The instance's private directory (root, state, config, logs). */
  readonly dir: string;
  /** The namespace CRI uses; the test images are imported there. */
  readonly namespace: "k8s.io";
  /** Reference of the sandbox image the CRI plugin is configured with (present locally). */
  readonly sandboxImage: string;
  /** Reference of the busybox test image (present locally). */
  readonly busyboxImage: string;
  readonly images: TestImages;
  /** The pod subnet of the CNI network, e.g. `10.151.7.0/24`; undefined without CNI. */
  readonly podSubnet: string | undefined;
  /** Name of the CNI bridge (on the host, or in `netns`); undefined without CNI. */
  readonly bridge: string | undefined;
  /** The network namespace the daemon and its pod bridge live in; undefined for the host's. */
  readonly netns: string | undefined;
  /** containerd's own log file. */
  readonly logFile: string;
  /**
   * Runs `ctr` against this containerd in the `k8s.io` namespace and returns its stdout. Containers
   * it creates use the instance's private runc root, so `stop()` removes them too.
   */
  ctr(args: readonly string[], options?: { input?: string }): Promise<string>;
  /** Stops containerd and starts it again on the same state (running containers survive, as in production). */
  restart(): Promise<void>;
  /** Stops containerd and removes every container, mount, network namespace, bridge and file it made. */
  stop(): Promise<void>;
}

const CONTAINERD = "/usr/bin/containerd";
const CNI_BIN_DIR = "/usr/lib/cni";
// containerd 1.6 shims put their sockets here whatever the daemon's state dir is.
const SHIM_SOCKET_DIR = "/run/containerd/s";

interface Meta {
  dir: string;
  socketPath: string;
  bridge: string | undefined;
  /** Named network namespace of the daemon and its bridge (absent: the host's). */
  netns?: string | undefined;
}

const NETNS_NAME = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,254}$/;
const NETNS_DIR = "/run/netns";

/** An IPv4 CIDR with a prefix CNI's host-local IPAM can use, else an InvalidArgument error. */
function checkSubnet(cidr: string): string {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(cidr);
  const octets = m ? m.slice(1, 5).map(Number) : [];
  const prefix = Number(m?.[5]);
  if (!m || octets.some((o) => o > 255) || prefix < 8 || prefix > 30) {
    throw new TestkitError(
      "InvalidArgument",
      `invalid podSubnet ${JSON.stringify(cidr)}: want an IPv4 CIDR with a prefix from /8 to /30, e.g. 10.244.1.0/24`,
    );
  }
  return cidr;
}

function configToml(dir: string, sandboxImage: string, cni: boolean): string {
  const q = JSON.stringify;
  return `version = 2
root = ${q(join(dir, "root"))}
state = ${q(join(dir, "state"))}
oom_score = 0

[grpc]
  address = ${q(join(dir, "containerd.sock"))}
[ttrpc]
  address = ${q(join(dir, "containerd.sock.ttrpc"))}
[debug]
  address = ""
[metrics]
  address = ""

[plugins."io.containerd.internal.v1.opt"]
  path = ${q(join(dir, "opt"))}

[plugins."io.containerd.grpc.v1.cri"]
  sandbox_image = ${q(sandboxImage)}
  # Needed where the daemon lacks CAP_SYS_RESOURCE (runc then fails: "can't get final child's PID from pipe").
  restrict_oom_score_adj = true
  # Pod network namespaces live in our state dir, not /run/netns: on a host where /run/netns is
  # still a plain directory, the first "ip netns add" bind-mounts it over itself, hiding (and
  # pinning) any nsfs mount already there, and the sandbox can then never be removed.
  netns_mounts_under_state_dir = true
  stream_server_address = "127.0.0.1"
  stream_server_port = "0"
  enable_cdi = false
  [plugins."io.containerd.grpc.v1.cri".containerd]
    snapshotter = "overlayfs"
    default_runtime_name = "runc"
    [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.grpc.v1.cri".containerd.runtimes.runc.options]
        # No systemd as PID 1 here: cgroupfs driver.
        SystemdCgroup = false
        Root = ${q(join(dir, "runc"))}
  [plugins."io.containerd.grpc.v1.cri".cni]
    bin_dir = ${q(CNI_BIN_DIR)}
    conf_dir = ${q(join(dir, cni ? "cni/net.d" : "cni/none"))}
`;
}

function cniConflist(dir: string, bridge: string, subnet: string): string {
  return `${JSON.stringify(
    {
      cniVersion: "1.0.0",
      name: bridge,
      plugins: [
        {
          type: "bridge",
          bridge,
          isGateway: true,
          // No masquerading: it would add rules to the host's iptables, and nothing here leaves the machine.
          ipMasq: false,
          hairpinMode: true,
          ipam: {
            type: "host-local",
            ranges: [[{ subnet }]],
            routes: [{ dst: "0.0.0.0/0" }],
            dataDir: join(dir, "cni", "ipam"),
          },
        },
        { type: "portmap", capabilities: { portMappings: true } },
      ],
    },
    null,
    2,
  )}\n`;
}

/** A /24 in 10.128.0.0/10 that no route on this host uses yet. */
async function freeSubnet(): Promise<string> {
  const { stdout } = await run(["ip", "-4", "route", "show"]);
  for (let i = 0; i < 64; i++) {
    const prefix = `10.${randomInt(128, 192)}.${randomInt(0, 256)}.`;
    if (!stdout.includes(prefix)) return `${prefix}0/24`;
  }
  throw new TestkitError("Timeout", "no free /24 for a CNI network in 10.128.0.0/10");
}

async function importImage(ctr: Containerd["ctr"], image: OciImage, scratch: string): Promise<void> {
  const tarball = join(scratch, `${basename(image.layoutDir)}.tar`);
  await run(["tar", "-C", image.layoutDir, "-cf", tarball, "."]);
  // The layout's ref.name annotation is the bare tag, so --base-name gives repository:tag.
  await ctr(["images", "import", "--base-name", image.repository, tarball]);
  const listed = await ctr(["images", "ls", "-q"]);
  if (!listed.split("\n").includes(image.ref)) {
    throw new TestkitError(
      "CommandFailed",
      `ctr images import did not create ${image.ref} (found: ${listed.trim()})`,
    );
  }
}

/** Network namespace paths under /var/run/netns held by the sandboxes of a containerd state dir (from their OCI specs). */
function hostNetnsPaths(stateDir: string): string[] {
  const tasks = join(stateDir, "io.containerd.runtime.v2.task");
  const paths: string[] = [];
  if (!existsSync(tasks)) return paths;
  for (const ns of readdirSync(tasks)) {
    for (const id of readdirSync(join(tasks, ns))) {
      try {
        const spec = JSON.parse(readFileSync(join(tasks, ns, id, "config.json"), "utf8")) as {
          linux?: { namespaces?: { type: string; path?: string }[] };
        };
        for (const n of spec.linux?.namespaces ?? []) {
          if (n.type === "network" && n.path?.startsWith("/var/run/netns/")) paths.push(n.path);
        }
      } catch {
        // not a task directory
      }
    }
  }
  return [...new Set(paths)];
}

/**
 * Removes what a containerd instance created, whether it stopped cleanly or its owner crashed.
 * Every step runs even when an earlier one fails; the failures are reported together.
 */
async function teardown(meta: Meta, daemon: ChildProcess | undefined): Promise<void> {
  const errors: string[] = [];
  const step = async (what: string, fn: () => Promise<unknown>) => {
    try {
      await fn();
    } catch (err) {
      errors.push(`${what}: ${TestkitError.from(err).message}`);
    }
  };
  const stateDir = join(meta.dir, "state");
  // Sandboxes of an instance started before netns_mounts_under_state_dir was set.
  const netnsPaths = hostNetnsPaths(stateDir);
  const taskDir = join(stateDir, "io.containerd.runtime.v2.task", "k8s.io");
  const taskIds = existsSync(taskDir) ? readdirSync(taskDir) : [];
  // runc delete --force kills each container's processes and removes its cgroups and state.
  const runcRoot = join(meta.dir, "runc");
  if (existsSync(runcRoot)) {
    for (const ns of await readdir(runcRoot)) {
      const root = join(runcRoot, ns);
      for (const id of await readdir(root).catch(() => [])) {
        await step(`runc delete ${id}`, () =>
          run(["runc", "--root", root, "delete", "--force", id]).catch((err: TestkitError) => {
            if (!/does not exist/.test(err.message)) throw err;
          }),
        );
      }
    }
  }
  if (daemon) await step("stop containerd", () => terminate(daemon, 5_000));
  // The daemon (`--config <dir>/config.toml`) and its shims (`-address <dir>/containerd.sock`)
  // all name the instance directory: that finds them even when their owner is gone.
  await step("kill containerd and its shims", async () => {
    for (const pid of pidsWithCmdline(meta.dir)) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {
        // gone already
      }
    }
    await waitFor(
      "containerd and its shims to exit",
      () => (pidsWithCmdline(meta.dir).length === 0 ? true : undefined),
      { timeoutMs: 10_000 },
    );
  });
  // Shim sockets live outside our dir, named by a hash of (daemon socket, namespace, task id).
  for (const id of taskIds) {
    const hash = createHash("sha256")
      .update(join(meta.socketPath, "k8s.io", id))
      .digest("hex");
    await step(`shim socket of ${id}`, () => rm(join(SHIM_SOCKET_DIR, hash), { force: true }));
  }
  for (const path of netnsPaths) {
    await step(`network namespace ${path}`, () =>
      run(["ip", "netns", "del", basename(path)]).catch((err: TestkitError) => {
        if (!/No such file/.test(err.message)) throw err;
      }),
    );
  }
  // Pod network namespaces (nsfs mounts under the state dir), rootfs and shm mounts.
  for (const m of mountsUnder(meta.dir)) await step(`unmount ${m}`, () => unmountLazily(m));
  const bridge = meta.bridge;
  // A bridge in a network namespace goes with it; delete it now in case the namespace stays.
  const inNetns = meta.netns ? ["-n", meta.netns] : [];
  if (bridge && (!meta.netns || existsSync(join(NETNS_DIR, meta.netns)))) {
    await step(`bridge ${bridge}`, () =>
      run(["ip", ...inNetns, "link", "del", bridge]).catch((err: TestkitError) => {
        if (!/Cannot find device|Cannot open network namespace/.test(err.message)) throw err;
      }),
    );
  }
  await step(`remove ${meta.dir}`, () => rm(meta.dir, { recursive: true, force: true, maxRetries: 3 }));
  if (errors.length > 0) {
    throw new TestkitError("CleanupFailed", `containerd teardown: ${errors.join("; ")}`);
  }
}

/** Removes containerd instances left behind by processes that no longer exist (crashed or killed runs). */
export async function sweepStaleContainerds(): Promise<string[]> {
  const swept: string[] = [];
  for (const entry of readdirSync(tmpdir())) {
    const dir = join(tmpdir(), entry);
    const m = INSTANCE_DIR.exec(entry);
    const owner = m?.[1] === "containerd" ? instanceOwner(dir, entry) : undefined;
    if (!owner || isOwnerAlive(owner)) continue;
    let meta: Meta;
    try {
      meta = JSON.parse(await readFile(join(dir, "instance.json"), "utf8")) as Meta;
    } catch {
      // Died before it wrote its record: nothing but the directory (and what runs from it).
      meta = { dir, socketPath: join(dir, "containerd.sock"), bridge: undefined };
    }
    await teardown(meta, undefined);
    swept.push(dir);
  }
  return swept;
}

/**
 * Starts a private containerd with the CRI plugin on, configured as these machines need
 * (cgroupfs, restricted oom_score_adj), with the test images imported into `k8s.io`.
 * Parallel-safe: every instance has its own directory, socket, runc root, bridge and subnet.
 */
export async function startContainerd(options: ContainerdOptions = {}): Promise<Containerd> {
  const cni = options.cni ?? true;
  const { netns } = options;
  if (netns !== undefined && !NETNS_NAME.test(netns))
    throw new TestkitError("InvalidArgument", `invalid network namespace name ${JSON.stringify(netns)}`);
  if (netns !== undefined && !existsSync(join(NETNS_DIR, netns)))
    throw new TestkitError(
      "InvalidArgument",
      `no network namespace ${JSON.stringify(netns)} in ${NETNS_DIR}`,
    );
  if (options.podSubnet !== undefined) checkSubnet(options.podSubnet);
  await ensureHostPackages([
    "containerd",
    "runc",
    "containernetworking-plugins",
    "iproute2",
    "umoci",
    "busybox-static",
  ]);
  await sweepStaleContainerds();
  const images = await buildTestImages();
  const dir = await instanceDir("containerd");
  const socketPath = join(dir, "containerd.sock");
  const bridge = cni
    ? `knb${basename(dir)
        .slice(-8)
        .toLowerCase()
        .replace(/[^a-z0-9]/g, "0")}`
    : undefined;
  const podSubnet = cni ? (options.podSubnet ?? (await freeSubnet())) : undefined;
  const meta: Meta = { dir, socketPath, bridge, netns };
  await writeFile(join(dir, "instance.json"), JSON.stringify(meta));
  await writeFile(join(dir, "config.toml"), configToml(dir, images.pause.ref, cni));
  await mkdir(join(dir, "cni", "net.d"), { recursive: true });
  if (bridge && podSubnet)
    await writeFile(join(dir, "cni", "net.d", "10-kubenode.conflist"), cniConflist(dir, bridge, podSubnet));
  const logFile = join(dir, "containerd.log");

  let daemon: ChildProcess | undefined;
  const ctr: Containerd["ctr"] = async (args, opts) => {
    // Containers made by `ctr run` / `ctr containers create` would otherwise use the machine-wide
    // runc root; keeping them in ours lets stop() find and remove them.
    const [verb, sub] = args;
    const creates =
      verb === "run" || ((verb === "c" || verb === "containers" || verb === "container") && sub === "create");
    const at = verb === "run" ? 1 : 2;
    const argv = creates ? [...args.slice(0, at), "--runc-root", join(dir, "runc"), ...args.slice(at)] : args;
    return (
      await run(["ctr", "--address", socketPath, "--namespace", "k8s.io", ...argv], {
        timeoutMs: 120_000,
        ...opts,
      })
    ).stdout;
  };

  const launch = async () => {
    const log = createWriteStream(logFile, { flags: "a" });
    const argv = [CONTAINERD, "--config", join(dir, "config.toml")];
    // nsenter switches only the network namespace, then execs containerd (same pid).
    const [cmd = CONTAINERD, ...args] = netns
      ? ["nsenter", `--net=${join(NETNS_DIR, netns)}`, "--", ...argv]
      : argv;
    const child = spawn(cmd, args, { stdio: ["ignore", "pipe", "pipe"] });
    child.stdout.pipe(log);
    child.stderr.pipe(log);
    daemon = child;
    const exitedEarly = new Promise<never>((_, reject) =>
      child.once("exit", (code) =>
        reject(new TestkitError("CommandFailed", `containerd exited ${code} while starting; see ${logFile}`)),
      ),
    );
    exitedEarly.catch(() => {});
    await Promise.race([
      exitedEarly,
      waitFor(
        "containerd socket",
        async () => (existsSync(socketPath) ? await ctr(["version"]) : undefined),
        {
          timeoutMs: options.startTimeoutMs ?? 30_000,
        },
      ),
    ]);
  };

  try {
    await launch();
    if (options.images ?? true) {
      await importImage(ctr, images.busybox, dir);
      await importImage(ctr, images.pause, dir);
    }
  } catch (err) {
    const tail = existsSync(logFile) ? readFileSync(logFile, "utf8").split("\n").slice(-15).join("\n") : "";
    await teardown(meta, daemon);
    throw new TestkitError(
      TestkitError.from(err).code,
      `${TestkitError.from(err).message}\ncontainerd log:\n${tail}`,
      { cause: err },
    );
  }

  let stopped: Promise<void> | undefined;
  return {
    endpoint: `unix://${socketPath}`,
    socketPath,
    dir,
    namespace: "k8s.io",
    sandboxImage: images.pause.ref,
    busyboxImage: images.busybox.ref,
    images,
    podSubnet,
    bridge,
    netns,
    logFile,
    ctr,
    async restart() {
      if (daemon) await terminate(daemon, 10_000);
      await launch();
    },
    stop() {
      stopped ??= teardown(meta, daemon);
      return stopped;
    },
  };
}
