#!/usr/bin/env node
// kubenode-local-cluster: brings the real node components up on this machine and shows them work.
import { parseArgs } from "node:util";
import {
  type Containerd,
  canUseRealComponents,
  createNetworkLab,
  type NetworkLab,
  type Registry,
  startContainerd,
  startRegistry,
} from "@kubenode/testkit";

const USAGE = `Usage: kubenode-local-cluster demo

  demo   start a private registry, containerd and network lab, run a container pulled from the
         registry, send traffic across namespaces, then tear everything down
`;

type Step = (log: (line: string) => void) => Promise<void>;

async function step(n: number, total: number, title: string, body: Step): Promise<void> {
  const started = performance.now();
  process.stdout.write(`[${n}/${total}] ${title}\n`);
  await body((line) => process.stdout.write(`      ${line}\n`));
  process.stdout.write(`      done in ${Math.round(performance.now() - started)} ms\n`);
}

async function demo(): Promise<void> {
  const cleanup: (() => Promise<void>)[] = [];
  let registry: Registry | undefined;
  let containerd: Containerd | undefined;
  let lab: NetworkLab | undefined;
  const total = 5;
  try {
    await step(1, total, "host components (Debian packages, installed when missing)", async (log) => {
      if (!(await canUseRealComponents()))
        throw new Error("the demo needs root to run containerd and network namespaces");
      log(
        "containerd, runc, CNI plugins, iptables, nftables, conntrack, iproute2, docker-registry, skopeo, umoci, busybox",
      );
    });

    await step(2, total, "private OCI registry with credentials, test image pushed", async (log) => {
      registry = await startRegistry({ auth: { username: "demo", password: "demo-password" } });
      cleanup.push(() => registry!.stop());
      log(`registry: http://${registry.host} (htpasswd auth)`);
      log(`pushed:   ${registry.busyboxRef}`);
    });

    await step(
      3,
      total,
      "private containerd (CRI plugin on, own socket, runc root and CNI bridge)",
      async (log) => {
        containerd = await startContainerd();
        cleanup.push(() => containerd!.stop());
        log(`endpoint: ${containerd.endpoint}`);
        log(`pods:     ${containerd.podSubnet} on bridge ${containerd.bridge}`);
        log(`images:   ${containerd.sandboxImage}, ${containerd.busyboxImage}`);
      },
    );

    await step(4, total, "pull from the registry with credentials and run a container", async (log) => {
      const ctd = containerd!;
      const ref = registry!.busyboxRef;
      await ctd.ctr(["images", "pull", "--plain-http", "--user", "demo:demo-password", ref]);
      log(`pulled ${ref}`);
      const out = await ctd.ctr([
        "run",
        "--rm",
        ref,
        `demo-${process.pid}`,
        "sh",
        "-c",
        'echo "hello from a container on $(uname -sr)"',
      ]);
      log(`container said: ${out.trim()}`);
    });

    await step(5, total, "TCP across network namespaces", async (log) => {
      lab = await createNetworkLab({ hosts: ["client", "server"] });
      cleanup.push(() => lab!.destroy());
      const server = lab.host("server");
      server.spawn(["busybox", "nc", "-ll", "-p", "8080", "-e", "echo", "pong"]);
      await server.waitForListening(8080);
      const { stdout } = await lab.host("client").exec(["busybox", "nc", "-w", "2", server.ip, "8080"]);
      log(`client ${lab.host("client").ip} -> server ${server.ip}:8080 answered: ${stdout.trim()}`);
    });
  } finally {
    for (const stop of cleanup.reverse()) await stop();
    process.stdout.write("torn down: network lab, containerd (containers, mounts, bridge), registry\n");
  }
}

async function main(): Promise<void> {
  const { positionals, values } = parseArgs({
    allowPositionals: true,
    options: { help: { type: "boolean", short: "h", default: false } },
  });
  if (values.help || positionals[0] !== "demo") {
    process.stdout.write(USAGE);
    if (!values.help) process.exitCode = 2;
    return;
  }
  await demo();
}

main().catch((err: unknown) => {
  process.stderr.write(`kubenode-local-cluster: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
