import { execFile, spawn } from "node:child_process";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { canUseRealComponents, run as runCommand, waitFor } from "@kubenode/testkit";
import { afterEach, describe, expect, it } from "vitest";

const real = await canUseRealComponents();
// The built binary, as users run it (turbo builds the app before its tests).
const main = join(import.meta.dirname, "..", "dist", "main.js");
const run = promisify(execFile);

let workDirs: string[] = [];
afterEach(async () => {
  for (const dir of workDirs) await rm(dir, { recursive: true, force: true });
  workDirs = [];
});
/** A directory standing in for where the user typed `npm run demo` (logs go under it). */
async function userDir(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "kubenode-demo-test-"));
  workDirs.push(dir);
  return dir;
}

/** What a demo process with this pid could have left: instance dirs, processes, namespaces, mounts. */
async function leftoversOf(pid: number): Promise<string[]> {
  const tag = new RegExp(`^kn-[a-z]+-${pid}-`);
  const dirs = readdirSync(tmpdir()).filter((e) => tag.test(e));
  const processes = readdirSync("/proc")
    .filter((p) => /^\d+$/.test(p))
    .flatMap((p) => {
      try {
        const cmd = readFileSync(`/proc/${p}/cmdline`, "utf8").replaceAll("\0", " ");
        return dirs.some((d) => cmd.includes(d)) || new RegExp(`/kn-[a-z]+-${pid}-`).test(cmd)
          ? [`process ${p}: ${cmd}`]
          : [];
      } catch {
        return [];
      }
    });
  const netns = (await runCommand(["ip", "netns", "list"])).stdout
    .split("\n")
    .filter((l) => l.startsWith(`kn-${pid}-`))
    .map((l) => `netns ${l.split(" ")[0]}`);
  const mounts = readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .filter((l) => new RegExp(`/kn-[a-z]+-${pid}-`).test(l))
    .map((l) => `mount ${l.split(" ")[4]}`);
  return [...dirs.map((d) => `dir ${d}`), ...processes, ...netns, ...mounts];
}

describe.runIf(real)("kubenode-local-cluster demo", () => {
  it("brings the cluster up, shows each part working through kubectl and CRI, and tears down", async () => {
    const cwd = await userDir();
    const child = spawn(process.execPath, [main, "demo"], { cwd });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code, stdout).toBe(0);
    expect(stdout).toMatch(/\$ kube-node-lease\s+Active/);
    expect(stdout).toMatch(/\$ kubenode-1\s+Ready\s/);
    expect(stdout).toMatch(/MemoryPressure=False \(KubeletHasSufficientMemory\)/);
    expect(stdout).toMatch(/lease kube-node-lease\/kubenode-1: holder kubenode-1, duration 40s/);
    expect(stdout).toMatch(/GET http:\/\/[\d.]+:8080\/ -> hello from pod web/);
    expect(stdout).toMatch(/exec in container: web runs Linux \(exit 0\)/);
    expect(stdout).toMatch(/20 connections to [\d.]+:80 -> \d+x "hello from web\d"/);
    expect(stdout).toMatch(/nftables table ip kube-proxy in the node namespace: \d+ chains/);
    // Teardown says what it removed, and it really is gone.
    for (const what of [
      "kube-proxy, backends and their network namespaces",
      "pod web",
      "containerd",
      "registry",
      "API server",
    ])
      expect(stdout).toContain(`done: ${what}`);
    expect(await leftoversOf(child.pid ?? 0)).toEqual([]);
    // Component logs outlive the teardown, where the user ran the demo.
    const logs = join(cwd, ".kubenode", "logs");
    expect(stdout).toContain(`logs: ${logs}`);
    for (const f of ["containerd.log", "registry.log", "kube-proxy.log"])
      expect(existsSync(join(logs, f)), f).toBe(true);
  });

  it("--down removes everything a demo killed with SIGKILL mid-run left behind", async () => {
    const cwd = await userDir();
    const child = spawn(process.execPath, [main, "demo"], { cwd });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => {
      stdout += d.toString();
    });
    const exited = new Promise((resolve) => child.once("exit", resolve));
    // Killed while everything runs: containerd with a pod, the registry, kube-proxy in its lab.
    await waitFor(
      "the demo to reach kube-proxy",
      () => (stdout.includes("kubectl apply: service/web") ? true : undefined),
      {
        timeoutMs: 180_000,
        intervalMs: 100,
      },
    );
    child.kill("SIGKILL");
    await exited;
    const pid = child.pid ?? 0;
    const left = await leftoversOf(pid);
    expect(left.some((l) => l.startsWith("process ") && l.includes("containerd"))).toBe(true);
    expect(left.some((l) => l.startsWith("netns "))).toBe(true);

    const down = await run(process.execPath, [main, "demo", "--down"], { cwd, timeout: 120_000 });
    expect(down.stdout).toMatch(/^removed:/m);
    expect(down.stdout).toContain(`kn-containerd-${pid}-`);
    expect(await leftoversOf(pid)).toEqual([]);
    // A second sweep finds nothing of this run.
    const again = await run(process.execPath, [main, "demo", "--down"], { cwd, timeout: 120_000 });
    expect(again.stdout).not.toContain(`-${pid}-`);
  });

  it("prints usage and exits 2 for an unknown command", async () => {
    const err = await run(process.execPath, [main, "bogus"]).catch(
      (e: { code: number; stdout: string }) => e,
    );
    expect(err).toMatchObject({ code: 2 });
    expect((err as { stdout: string }).stdout).toMatch(/Usage: kubenode-local-cluster demo/);
  });
});
