import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { afterEach, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { eventually, kubectl, requireKubectl } from "./test-support.js";

const hasKubectl = await requireKubectl("the CLI watch-expiry test");

const here = dirname(fileURLToPath(import.meta.url));
// the sources run directly under Node 24 with the hook that maps ".js" imports to ".ts"
const args = ["--import", join(here, "../../bench/apiserver-ts-hook.ts"), join(here, "cli.ts")];

let child: ChildProcess | undefined;
let dir: string | undefined;
afterEach(async () => {
  if (child && child.exitCode === null) {
    child.kill("SIGTERM");
    await new Promise((r) => child?.once("exit", r));
  }
  if (dir) await rm(dir, { recursive: true, force: true });
  child = undefined;
  dir = undefined;
});

function run(extra: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    execFile(process.execPath, [...args, ...extra], (err, stdout, stderr) => {
      resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
    });
  });
}

describe("kubenode-apiserver CLI", () => {
  it("serves until SIGTERM and writes admin and node kubeconfigs", async () => {
    dir = await mkdtemp(join(tmpdir(), "kubenode-cli-"));
    const kc = join(dir, "kubeconfig");
    child = spawn(process.execPath, [...args, "--port", "0", "--kubeconfig", kc, "--node", "node-a"], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await eventually(() => out.includes("node node-a kubeconfig:"), 20_000, "CLI start");
    expect(out).toMatch(/listening on https:\/\/127\.0\.0\.1:\d+/);
    const admin = parseYaml(await readFile(kc, "utf8"));
    expect(admin.users[0].name).toBe("admin");
    const node = parseYaml(await readFile(`${kc}-node-a`, "utf8"));
    expect(node.users[0].name).toBe("system:node:node-a");
    const exited = new Promise<number | null>((r) => child?.once("exit", (code) => r(code)));
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
  });

  it.skipIf(!hasKubectl)("SIGUSR2 expires the watch history: resuming an older watch is 410", async () => {
    dir = await mkdtemp(join(tmpdir(), "kubenode-cli-"));
    const kc = join(dir, "kubeconfig");
    child = spawn(
      process.execPath,
      [...args, "--port", "0", "--kubeconfig", kc, "--watch-cache-capacity", "50"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let out = "";
    child.stdout?.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await eventually(() => out.includes("admin kubeconfig:"), 20_000, "CLI start");
    const created = await kubectl(kc, [
      "create",
      "configmap",
      "x",
      "-o",
      "jsonpath={.metadata.resourceVersion}",
    ]);
    const rv = created.stdout;
    const watchPath = `/api/v1/namespaces/default/configmaps?watch=1&resourceVersion=${rv}&timeoutSeconds=1`;
    expect((await kubectl(kc, ["get", "--raw", watchPath])).stdout).not.toContain("Expired");
    child.kill("SIGUSR2");
    await eventually(() => out.includes("watch history expired"), 10_000, "expiry acknowledged");
    const after = await kubectl(kc, ["get", "--raw", watchPath]);
    expect(JSON.parse(after.stdout.trim().split("\n")[0]!)).toMatchObject({
      type: "ERROR",
      object: { reason: "Expired", code: 410 },
    });
  });

  it("rejects bad arguments with a clear message and exit code 2", async () => {
    const port = await run(["--port", "99999"]);
    expect(port.code).toBe(2);
    expect(port.stderr).toContain('--port must be an integer 0-65535, got "99999"');
    const ctl = await run(["--disable", "kube-proxy"]);
    expect(ctl.code).toBe(2);
    expect(ctl.stderr).toContain('unknown controller "kube-proxy"');
    const capacity = await run(["--watch-cache-capacity", "0"]);
    expect(capacity.code).toBe(2);
    expect(capacity.stderr).toContain('--watch-cache-capacity must be a positive integer, got "0"');
    const unknown = await run(["--bogus"]);
    expect(unknown.code).toBe(2);
    expect(unknown.stderr).toContain("Unknown option '--bogus'");
  });
});
