import { mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type Containerd, startContainerd, waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canRunContainerd, removePod, runPod } from "./__tests__/real-runtime.js";
import { type CriClient, createCriClient } from "./client.js";
import { CriError } from "./errors.js";
import { ContainerState, PodSandboxState } from "./gen/runtime/v1/api.js";
import { readCriLog } from "./logs.js";

const real = await canRunContainerd();

/** True when `ip` (dotted quad) is inside the /24 `subnet` (`a.b.c.0/24`). */
function inSubnet24(ip: string, subnet: string): boolean {
  return ip.split(".").slice(0, 3).join(".") === subnet.split(".").slice(0, 3).join(".");
}

describe.runIf(real)("pod and container lifecycle against containerd", () => {
  let ctd: Containerd;
  let cri: CriClient;
  const pods: string[] = [];
  const scratch = mkdtempSync(join(tmpdir(), "kn-cri-life-"));

  beforeAll(async () => {
    ctd = await startContainerd({ cni: true });
    cri = createCriClient({ endpoint: ctd.endpoint });
    await cri.connect();
  });
  afterAll(async () => {
    for (const id of pods) await removePod(cri, id);
    cri?.close();
    await ctd?.stop();
    rmSync(scratch, { recursive: true, force: true });
  });

  it("connects and reports containerd's CRI v1 version and status", async () => {
    const version = await cri.connect();
    expect(version).toMatchObject({ runtimeName: "containerd", runtimeApiVersion: "v1" });
    const { status } = await cri.status({});
    const ready = Object.fromEntries(status?.conditions.map((c) => [c.type, c.status]) ?? []);
    expect(ready).toMatchObject({ RuntimeReady: true, NetworkReady: true });
  });

  it("runs a CNI pod with env, command, a read-only mount and resources, and reports it", async () => {
    const hostDir = join(scratch, "data");
    mkdirSync(hostDir, { recursive: true });
    writeFileSync(join(hostDir, "greeting.txt"), "from the host\n");
    const { podSandboxId, containerId, config } = await runPod(
      cri,
      ctd,
      "lifecycle",
      'echo "$GREETING $(cat /data/greeting.txt)"; exec sleep 600',
      {
        envs: [{ key: "GREETING", value: "hello" }],
        mounts: [{ containerPath: "/data", hostPath: hostDir, readonly: true }],
        linux: { resources: { memoryLimitInBytes: 64 * 1024 * 1024, cpuShares: 512 } },
        labels: { tier: "test" },
      },
    );
    pods.push(podSandboxId);

    const sandbox = await cri.podSandboxStatus({ podSandboxId });
    expect(sandbox.status?.state).toBe(PodSandboxState.SANDBOX_READY);
    expect(sandbox.status?.metadata?.name).toBe("lifecycle");
    const ip = sandbox.status?.network?.ip ?? "";
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    expect(inSubnet24(ip, ctd.podSubnet ?? "")).toBe(true);

    const { status } = await cri.containerStatus({ containerId });
    expect(status?.state).toBe(ContainerState.CONTAINER_RUNNING);
    expect(status?.metadata?.name).toBe("main");
    expect(status?.labels).toMatchObject({ tier: "test" });
    expect(status?.startedAt).toBeGreaterThan(0n);
    expect(status?.logPath).toBe(join(config.logDirectory ?? "", "main/0.log"));

    const listed = await cri.listContainers({ filter: { podSandboxId, labelSelector: { tier: "test" } } });
    expect(listed.containers.map((c) => c.id)).toEqual([containerId]);

    const mounted = await cri.execSync({ containerId, cmd: ["sh", "-c", "echo x > /data/new"] });
    expect(mounted.exitCode).not.toBe(0);
    expect(mounted.stderr.toString()).toMatch(/Read-only file system/);

    const memory = await cri.execSync({
      containerId,
      cmd: [
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
      ],
    });
    expect(memory.stdout.toString().trim()).toBe(String(64 * 1024 * 1024));

    await cri.updateContainerResources({
      containerId,
      linux: { memoryLimitInBytes: 128 * 1024 * 1024, cpuShares: 512 },
    });
    const updated = await cri.execSync({
      containerId,
      cmd: [
        "sh",
        "-c",
        "cat /sys/fs/cgroup/memory/memory.limit_in_bytes 2>/dev/null || cat /sys/fs/cgroup/memory.max",
      ],
    });
    expect(updated.stdout.toString().trim()).toBe(String(128 * 1024 * 1024));

    // The CRI log file: `<RFC3339Nano> stdout F <line>`.
    const logPath = status?.logPath ?? "";
    const line = await waitFor("the container's first log line", () => {
      const text = readFileSync(logPath, "utf8");
      return text.includes("\n") ? text.split("\n")[0] : undefined;
    });
    expect(line).toMatch(/^\d{4}-\d\d-\d\dT\S+ stdout F hello from the host$/);
  });

  it("runs a host-network pod without a pod IP of its own", async () => {
    const { podSandboxId, containerId } = await runPod(
      cri,
      ctd,
      "hostnet",
      "exec sleep 600",
      {},
      { hostNetwork: true },
    );
    pods.push(podSandboxId);
    const sandbox = await cri.podSandboxStatus({ podSandboxId });
    expect(sandbox.status?.network?.ip ?? "").toBe("");
    const links = await cri.execSync({ containerId, cmd: ["ip", "-o", "link"] });
    expect(links.stdout.toString()).toContain(ctd.bridge ?? "<no bridge>");
  });

  it("ExecSync returns exit codes and output, and times out", async () => {
    const { podSandboxId, containerId } = await runPod(cri, ctd, "exec", "exec sleep 600");
    pods.push(podSandboxId);
    const ok = await cri.execSync({ containerId, cmd: ["sh", "-c", "echo out; echo err >&2"] });
    expect(ok).toMatchObject({ exitCode: 0 });
    expect(ok.stdout.toString()).toBe("out\n");
    expect(ok.stderr.toString()).toBe("err\n");
    const failed = await cri.execSync({ containerId, cmd: ["sh", "-c", "exit 42"] });
    expect(failed.exitCode).toBe(42);
    // The runtime enforces the exec timeout itself...
    await expect(cri.execSync({ containerId, cmd: ["sleep", "30"], timeout: 1 })).rejects.toMatchObject({
      code: "DeadlineExceeded",
      rpc: "ExecSync",
    });
    // ...and a per-call deadline bounds the call on the client side.
    await expect(
      cri.execSync({ containerId, cmd: ["sleep", "30"] }, { timeoutMs: 300 }),
    ).rejects.toMatchObject({
      code: "DeadlineExceeded",
      runtimeMessage: expect.stringMatching(/deadline/i),
    });
  });

  it("reports stats for one container and for all", async () => {
    const { podSandboxId, containerId } = await runPod(cri, ctd, "stats", "exec sleep 600");
    pods.push(podSandboxId);
    const one = await waitFor("container stats with memory", async () => {
      const { stats } = await cri.containerStats({ containerId });
      return stats?.memory?.workingSetBytes ? stats : undefined;
    });
    expect(one.attributes?.id).toBe(containerId);
    expect(one.cpu?.timestamp).toBeGreaterThan(0n);
    const all = await cri.listContainerStats({ filter: { podSandboxId } });
    expect(all.stats.map((s) => s.attributes?.id)).toEqual([containerId]);
    // StreamContainerStats is newer than containerd 1.6: the client falls back to the list call.
    const streamed = [];
    for await (const page of cri.streamContainerStats({ filter: { podSandboxId } }))
      streamed.push(...page.containerStats);
    expect(streamed.map((s) => s.attributes?.id)).toEqual([containerId]);
    expect(cri.supports("StreamContainerStats")).toBe(false);
  });

  it("StopContainer honours the grace period, then kills", async () => {
    const graceful = await runPod(
      cri,
      ctd,
      "graceful",
      'trap "exit 0" TERM; while :; do sleep 1 & wait $!; done',
    );
    const stubborn = await runPod(cri, ctd, "stubborn", 'trap "" TERM; while :; do sleep 1; done');
    pods.push(graceful.podSandboxId, stubborn.podSandboxId);
    await cri.stopContainer({ containerId: graceful.containerId, timeout: 30 });
    await cri.stopContainer({ containerId: stubborn.containerId, timeout: 1 });
    const a = (await cri.containerStatus({ containerId: graceful.containerId })).status;
    const b = (await cri.containerStatus({ containerId: stubborn.containerId })).status;
    expect(a).toMatchObject({ state: ContainerState.CONTAINER_EXITED, exitCode: 0 });
    // Ignored SIGTERM: SIGKILLed once the 1 s grace period ran out.
    expect(b).toMatchObject({ state: ContainerState.CONTAINER_EXITED, exitCode: 137 });
    expect(Number((b?.finishedAt ?? 0n) - (b?.startedAt ?? 0n))).toBeGreaterThanOrEqual(1e9);

    await cri.removeContainer({ containerId: stubborn.containerId });
    await expect(cri.containerStatus({ containerId: stubborn.containerId })).rejects.toMatchObject({
      code: "NotFound",
    });
    await cri.stopPodSandbox({ podSandboxId: stubborn.podSandboxId });
    await cri.removePodSandbox({ podSandboxId: stubborn.podSandboxId });
    const left = await cri.listPodSandbox({ filter: { id: stubborn.podSandboxId } });
    expect(left.items).toEqual([]);
  });

  it("maps unknown IDs to NotFound and unsupported RPCs to Unimplemented", async () => {
    const notFound = await cri.podSandboxStatus({ podSandboxId: "does-not-exist" }).catch((e: unknown) => e);
    expect(notFound).toBeInstanceOf(CriError);
    expect(notFound).toMatchObject({ code: "NotFound", rpc: "PodSandboxStatus" });

    // containerd 1.6 predates RuntimeConfig (2.0) and does not implement GetContainerEvents.
    await expect(cri.runtimeConfig({})).rejects.toMatchObject({
      code: "Unimplemented",
      rpc: "RuntimeConfig",
    });
    expect(cri.supports("RuntimeConfig")).toBe(false);
    const events = async () => {
      for await (const _ of cri.getContainerEvents({})) break;
    };
    await expect(events()).rejects.toMatchObject({ code: "Unimplemented", rpc: "GetContainerEvents" });
    expect(cri.supports("GetContainerEvents")).toBe(false);
    // Stream* list calls fall back to List*.
    const pages = [];
    for await (const page of cri.streamPodSandboxes({})) pages.push(page);
    expect(pages).toHaveLength(1);
    expect(pages[0]?.podSandboxes.length).toBeGreaterThan(0);
  });

  it("reads and follows container logs: long lines split by the runtime, rotation via ReopenContainerLog", async () => {
    const { podSandboxId, containerId } = await runPod(
      cri,
      ctd,
      "logs",
      // One 40 000-character line (containerd splits it into 16 KiB partial entries), then a tick per line of stdin.
      "head -c 40000 /dev/zero | tr '\\0' x; echo; echo to-stderr >&2; while read line; do echo \"tick $line\"; done",
      { stdin: true },
    );
    pods.push(podSandboxId);
    const logPath = (await cri.containerStatus({ containerId })).status?.logPath ?? "";
    const ac = new AbortController();
    const lines = readCriLog(logPath, {
      follow: true,
      signal: ac.signal,
      pollIntervalMs: 50,
      isRunning: async () =>
        (await cri.containerStatus({ containerId })).status?.state === ContainerState.CONTAINER_RUNNING,
    });
    // stdout and stderr reach the file through separate pipes: their relative order is not fixed.
    const firstTwo = [(await lines.next()).value, (await lines.next()).value].sort((a, b) =>
      (a?.stream ?? "").localeCompare(b?.stream ?? ""),
    );
    expect(firstTwo[0]).toMatchObject({ stream: "stderr", content: "to-stderr" });
    expect(firstTwo[1]?.stream).toBe("stdout");
    expect(firstTwo[1]?.content).toBe("x".repeat(40_000));
    expect(
      readFileSync(logPath, "utf8")
        .split("\n")
        .filter((l) => / stdout P /.test(l)).length,
    ).toBeGreaterThan(0);

    const { attachStream } = await import("./streaming.js");
    const session = await attachStream(cri, { containerId, stdin: true, stdout: true });
    session.stdout.resume();
    session.stdin?.write("1\n");
    expect((await lines.next()).value?.content).toBe("tick 1");

    // Rotate like the kubelet's log manager: rename, then ask the runtime to reopen the path.
    renameSync(logPath, `${logPath}.20261127-000000`);
    await cri.reopenContainerLog({ containerId });
    session.stdin?.write("2\n");
    expect((await lines.next()).value?.content).toBe("tick 2");
    expect(readFileSync(logPath, "utf8")).toMatch(/ stdout F tick 2\n$/);

    // Once the container exits, the follower drains and ends.
    session.close();
    await cri.stopContainer({ containerId, timeout: 0 });
    expect((await lines.next()).done).toBe(true);
    ac.abort();
  });
});
