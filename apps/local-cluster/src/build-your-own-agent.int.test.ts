// Runs the agent of docs/build-your-own-agent.md as it stands, as a user would run their own file:
// a Node.js process with a node identity against the API server simulator, driven with kubectl.
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { type ApiServer, canUseRealComponents, startApiServer, waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const exec = promisify(execFile);
const guide = join(import.meta.dirname, "..", "..", "..", "docs", "build-your-own-agent.md");
const code = /```ts\n([\s\S]*?)```/.exec(readFileSync(guide, "utf8"))?.[1] ?? "";
// Only kubectl is needed, but it is a real component: under CI a missing one fails.
const real = await canUseRealComponents([]);

describe("docs/build-your-own-agent.md", () => {
  it("keeps its agent under 100 lines", () => {
    expect(code).toContain("createKubelet");
    expect(code.trim().split("\n").length).toBeLessThan(100);
  });

  it("has an agent that type-checks with the repository's strict settings", async () => {
    const dir = join(import.meta.dirname, "..");
    const file = join(dir, `.dry-run-node-typecheck-${process.pid}.ts`);
    const project = join(dir, `.dry-run-node-tsconfig-${process.pid}.json`);
    await writeFile(file, code);
    await writeFile(
      project,
      JSON.stringify({ extends: "./tsconfig.json", include: [file], compilerOptions: { noEmit: true } }),
    );
    try {
      const tsc = join(dir, "..", "..", "node_modules", "typescript", "bin", "tsc");
      const r = await exec(process.execPath, [tsc, "-p", project], { timeout: 120_000 }).catch(
        (e: { stdout: string }) => ({ stdout: e.stdout || "tsc failed" }),
      );
      expect(r.stdout).toBe("");
    } finally {
      await rm(file, { force: true });
      await rm(project, { force: true });
    }
  }, 150_000);
});

describe.runIf(real)("the dry-run node agent of docs/build-your-own-agent.md", () => {
  let server: ApiServer;
  let agent: ChildProcess | undefined;
  let output = "";
  // Inside this package, so its @kubenode/* imports resolve to the built workspace packages.
  const file = join(import.meta.dirname, "..", `.dry-run-node-${process.pid}.ts`);
  const kubectl = async (...args: string[]) =>
    (await exec("kubectl", ["--kubeconfig", server.kubeconfigPath, ...args], { timeout: 60_000 })).stdout;

  beforeAll(async () => {
    server = await startApiServer();
    await writeFile(file, code);
  });
  afterAll(async () => {
    agent?.kill("SIGKILL");
    await rm(file, { force: true });
    await server?.stop();
  });

  it("registers a Ready node with its resource and taint, completes a Job there, and stops on SIGTERM", async () => {
    const child = spawn(process.execPath, [file], {
      env: {
        ...process.env,
        KUBECONFIG: await server.kubeconfigFor("system:node:dry-run-1"),
        NODE_NAME: "dry-run-1",
      },
    });
    agent = child;
    child.stdout.on("data", (d: Buffer) => {
      output += d.toString();
    });
    child.stderr.on("data", (d: Buffer) => {
      output += d.toString();
    });
    await waitFor(
      "the agent to start",
      () => {
        if (child.exitCode !== null) throw new Error(`the agent exited ${child.exitCode}: ${output}`);
        return output.includes("node dry-run-1 is up") ? true : undefined;
      },
      {
        timeoutMs: 120_000,
      },
    );
    await kubectl("wait", "--for=condition=Ready", "node/dry-run-1", "--timeout=60s");
    const node = JSON.parse(await kubectl("get", "node", "dry-run-1", "-o", "json"));
    expect(node.status.capacity["example.com/dry-run"]).toBe("1000");
    expect(node.spec.taints).toContainEqual({
      key: "example.com/dry-run",
      value: "true",
      effect: "NoSchedule",
    });
    expect(
      await kubectl(
        "get",
        "lease",
        "-n",
        "kube-node-lease",
        "dry-run-1",
        "-o",
        "jsonpath={.spec.holderIdentity}",
      ),
    ).toBe("dry-run-1");

    const job = {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: { name: "dry", namespace: "default" },
      spec: {
        completions: 3,
        parallelism: 3,
        template: {
          spec: {
            restartPolicy: "Never",
            tolerations: [{ key: "example.com/dry-run", operator: "Exists" }],
            nodeSelector: { "kubernetes.io/hostname": "dry-run-1" },
            containers: [{ name: "work", image: "example.com/anything:1", command: ["true"] }],
          },
        },
      },
    };
    const apply = spawn("kubectl", ["--kubeconfig", server.kubeconfigPath, "apply", "-f", "-"]);
    apply.stdin.end(JSON.stringify(job));
    expect(await new Promise((resolve) => apply.once("exit", resolve))).toBe(0);
    await kubectl("wait", "--for=condition=complete", "job/dry", "--timeout=90s");
    const pods = JSON.parse(await kubectl("get", "pods", "-l", "job-name=dry", "-o", "json")).items;
    expect(pods.filter((p: { status: { phase: string } }) => p.status.phase === "Succeeded").length).toBe(3);
    for (const p of pods) {
      expect(p.spec.nodeName).toBe("dry-run-1");
      expect(p.status.containerStatuses[0].state.terminated).toMatchObject({
        exitCode: 0,
        reason: "Completed",
      });
    }

    // Stops cleanly: the SIGTERM handler stops every loop and the process exits on its own.
    child.kill("SIGTERM");
    const code = await new Promise((resolve) => child.once("exit", resolve));
    expect(code, output).toBe(0);
    expect(output).toContain("node dry-run-1 stopped");
  }, 300_000);
});
