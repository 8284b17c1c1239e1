import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { canUseRealComponents } from "@kubenode/testkit";
import { describe, expect, it } from "vitest";

const real = await canUseRealComponents();
const run = promisify(execFile);
const fixture = join(import.meta.dirname, "..", "test", "fixtures", "fresh-netns-sequence.mjs");

// A freshly booted host has /run/netns as a plain directory (no mount yet). The first `ip netns
// add` then bind-mounts it over itself; a pod network namespace mounted there before that was
// hidden and pinned, and its sandbox could never be removed. Reproduced in a private mount
// namespace, so the host's own /run/netns is left as it is.
describe.runIf(real)("on a fresh machine (/run/netns a plain directory)", () => {
  it("a pod sandbox, then a network lab, then teardown: every step succeeds and nothing is left", async () => {
    const { stdout } = await run(
      "unshare",
      ["--mount", "--propagation", "private", "--", process.execPath, fixture],
      { timeout: 240_000 },
    );
    const report = JSON.parse(stdout.trim().split("\n").at(-1) ?? "{}");
    expect(report.freshBefore, stdout).toBe(true);
    expect(report.podIP).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    // The lab really did what iproute2 does on a fresh host.
    expect(report.labMountedNetnsDir).toBe(true);
    expect(report.errors).toEqual([]);
    expect(report.entriesAfter).toEqual(report.entriesBefore);
    expect(report.netnsMountsAfter).toEqual([]);
    expect(report.containerdDirLeft).toBe(false);
    // The pod's network namespace is not in /run/netns, where a lab mount could cover it.
    expect(report.netnsPath).toMatch(/^\//);
    expect(report.netnsPath).not.toMatch(/^(\/var)?\/run\/netns\//);
  });
});
