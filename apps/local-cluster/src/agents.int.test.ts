import { existsSync, readFileSync } from "node:fs";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { canUseRealComponents, createNetworkLab, type NetworkLab, waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startAgent } from "./agents.js";

const real = await canUseRealComponents(["iproute2"]);

describe.runIf(real)("startAgent", () => {
  let lab: NetworkLab;
  let dir: string;
  beforeAll(async () => {
    lab = await createNetworkLab({ hosts: ["node"] });
    dir = await mkdtemp(join(tmpdir(), "kubenode-agent-test-"));
  });
  afterAll(async () => {
    await lab?.destroy();
    await rm(dir, { recursive: true, force: true });
  });

  it("runs the bin in the node's network namespace with its instance dir on its command line", async () => {
    const bin = join(dir, "agent.mjs");
    // Prints its network namespace and arguments, then waits to be stopped.
    await writeFile(
      bin,
      `import { readlinkSync } from "node:fs";
       console.log(JSON.stringify({ netns: readlinkSync("/proc/self/ns/net"), args: process.argv.slice(2) }));
       process.on("SIGTERM", () => process.exit(0));
       setInterval(() => {}, 1000);`,
    );
    const logFile = join(dir, "agent.log");
    const agent = await startAgent({
      name: "test agent on node",
      kind: "agent",
      netns: lab.host("node").netns,
      bin,
      args: (instance) => [`--root-dir=${instance}`],
      logFile,
    });
    const { stdout } = await lab.host("node").exec(["readlink", "/proc/self/ns/net"]);
    const line = await waitFor("the agent's first log line", () =>
      existsSync(logFile) && readFileSync(logFile, "utf8").includes("\n")
        ? readFileSync(logFile, "utf8").trim()
        : undefined,
    );
    const seen = JSON.parse(line) as { netns: string; args: string[] };
    expect(seen.netns).toBe(stdout.trim());
    expect(seen.args).toEqual([`--root-dir=${agent.dir}`]);
    expect(agent.dir).toMatch(new RegExp(`/kn-agent-${process.pid}-`));
    expect(readFileSync(`/proc/${agent.pid}/cmdline`, "utf8")).toContain(agent.dir);
    await agent.stop();
    expect(existsSync(agent.dir)).toBe(false);
  });

  it("reports an agent that exits on its own, naming it, its log file and the log's last lines", async () => {
    const bin = join(dir, "crash.mjs");
    await writeFile(bin, `console.error("E1207 failed to start: no CRI endpoint"); process.exit(3);`);
    const logFile = join(dir, "crash.log");
    const agent = await startAgent({
      name: "kubelet on kubenode-9",
      kind: "agent",
      netns: lab.host("node").netns,
      bin,
      args: () => [],
      logFile,
    });
    const why = await agent.died;
    expect(why).toContain(`kubelet on kubenode-9 exited (code 3); its log is ${logFile}`);
    expect(why).toContain("E1207 failed to start: no CRI endpoint");
    await agent.stop();
  });
});
