import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, expect, it } from "vitest";
import { shebangNodeFlags, workspaceBin } from "./agents.js";

let dir: string | undefined;
afterEach(async () => {
  if (dir) await rm(dir, { recursive: true, force: true });
  dir = undefined;
});

async function bin(firstLine: string): Promise<string> {
  dir ??= await mkdtemp(join(tmpdir(), "kn-shebang-"));
  const path = join(dir, `bin-${Math.random().toString(36).slice(2)}.js`);
  await writeFile(path, `${firstLine}\nconsole.log(1);\n`);
  return path;
}

it("reads the V8 flags of an `env -S node` shebang", async () => {
  expect(shebangNodeFlags(await bin("#!/usr/bin/env -S node --max-semi-space-size=2"))).toEqual([
    "--max-semi-space-size=2",
  ]);
  expect(shebangNodeFlags(await bin("#!/usr/bin/env -S node --a=1 --b"))).toEqual(["--a=1", "--b"]);
  expect(shebangNodeFlags(await bin("#!/usr/bin/env node"))).toEqual([]);
  expect(shebangNodeFlags(await bin("// no shebang"))).toEqual([]);
  // Anything but plain flags is not passed on to a command line.
  expect(shebangNodeFlags(await bin("#!/usr/bin/env -S node --x=$(id) ; rm -rf /"))).toEqual([]);
});

it("runs both agents with the flags their published bins set", () => {
  expect(shebangNodeFlags(workspaceBin("@kubenode/kube-proxy", "kubenode-proxy"))).toEqual([
    "--max-semi-space-size=2",
  ]);
  expect(shebangNodeFlags(workspaceBin("@kubenode/kubelet", "kubenode-kubelet"))).toEqual([
    "--max-semi-space-size=2",
  ]);
});
