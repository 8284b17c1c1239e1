import { mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Container, Pod } from "../api.js";
import {
  createTerminationMessageFile,
  type ExitedContainerInfo,
  lastLogText,
  terminationMessage,
} from "./termination-message.js";
import { RuntimeStepError } from "./types.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "kubenode-termination-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

const pod: Pod = { metadata: { name: "p", namespace: "default", uid: "uid-1" }, spec: { containers: [] } };
const criLog = (lines: string[]) =>
  lines
    .map((l, i) => `2026-01-01T00:00:${String(i % 60).padStart(2, "0")}.000000000Z stdout F ${l}\n`)
    .join("");

function info(extra: Partial<ExitedContainerInfo>): ExitedContainerInfo {
  return {
    exitCode: 1,
    reason: "Error",
    message: "",
    logPath: join(dir, "0.log"),
    mounts: [],
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "File",
    ...extra,
  };
}

describe("termination messages", () => {
  it("creates a fresh 0666 file per start under <root>/pods/<uid>/containers/<name>/", async () => {
    const c: Container = { name: "app" };
    const a = await createTerminationMessageFile(dir, pod, c);
    const b = await createTerminationMessageFile(dir, pod, c);
    expect(a?.containerPath).toBe("/dev/termination-log");
    expect(a?.hostPath).toMatch(new RegExp(`^${dir}/pods/uid-1/containers/app/[0-9a-f]{8}$`));
    expect(b?.hostPath).not.toBe(a?.hostPath);
    expect((await stat(a!.hostPath)).mode & 0o777).toBe(0o666);
    expect((await stat(join(dir, "pods/uid-1/containers/app"))).mode & 0o777).toBe(0o750);
    expect(await readdir(join(dir, "pods/uid-1/containers/app"))).toHaveLength(2);
    expect(
      await createTerminationMessageFile(dir, pod, { name: "x", terminationMessagePath: "" }),
    ).toBeUndefined();
    await expect(
      createTerminationMessageFile(dir, pod, { name: "x", terminationMessagePath: "rel/path" }),
    ).rejects.toThrow(RuntimeStepError);
  });

  it("reads the file (at most 4096 bytes) and appends it to the runtime's message", async () => {
    const file = join(dir, "msg");
    await writeFile(file, `${"x".repeat(5000)}`);
    const mounts = [{ containerPath: "/dev/termination-log", hostPath: file }];
    expect(await terminationMessage(info({ mounts }))).toBe("x".repeat(4096));
    await writeFile(file, "bye");
    expect(await terminationMessage(info({ mounts, message: "runtime said" }))).toBe("runtime said: bye");
  });

  it("FallbackToLogsOnError: the last 80 lines, at most 2048 bytes, only after a failure with an empty file", async () => {
    const file = join(dir, "msg");
    await writeFile(file, "");
    const lines = Array.from({ length: 100 }, (_, i) => `line ${i}`);
    await writeFile(join(dir, "0.log"), criLog(lines));
    const mounts = [{ containerPath: "/dev/termination-log", hostPath: file }];
    const fallback = info({ mounts, terminationMessagePolicy: "FallbackToLogsOnError" });
    expect(await terminationMessage(fallback)).toBe(`${lines.slice(20).join("\n")}\n`);
    // Success, File policy, or a non-empty file: no logs.
    expect(await terminationMessage({ ...fallback, exitCode: 0 })).toBe("");
    expect(await terminationMessage({ ...fallback, terminationMessagePolicy: "File" })).toBe("");
    expect(await terminationMessage({ ...fallback, reason: "ContainerCannotRun" })).toBe("");
    await writeFile(file, "from file");
    expect(await terminationMessage(fallback)).toBe("from file");
    // Long lines: the last 2048 bytes.
    await writeFile(join(dir, "0.log"), criLog(Array.from({ length: 10 }, (_, i) => `${i}`.repeat(500))));
    const tail = await lastLogText(join(dir, "0.log"));
    expect(Buffer.byteLength(tail)).toBe(2048);
    expect(tail.endsWith(`${"9".repeat(500)}\n`)).toBe(true);
  });
});
