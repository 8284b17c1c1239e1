// Two installed copies of @kubenode/kube (a user's and one a block depends on) must agree on what
// a KubeError is, or a block misses the 409 Conflict the other copy threw. The second copy here is
// the built package copied to another directory: a distinct module instance, as npm would install.
import { cp, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { KubeError } from "./errors.js";

const packageDir = fileURLToPath(new URL("..", import.meta.url));
let copyDir: string;
let Other: typeof KubeError;

beforeAll(async () => {
  const built = join(packageDir, "dist", "index.js");
  await stat(built).catch(() => {
    throw new Error(`${built} is missing: build @kubenode/kube first (npx turbo run build)`);
  });
  // Inside the package, so the copy resolves its own dependencies from the same node_modules.
  copyDir = await mkdtemp(join(packageDir, ".second-copy-"));
  await cp(join(packageDir, "dist"), join(copyDir, "dist"), { recursive: true });
  await writeFile(join(copyDir, "package.json"), JSON.stringify({ name: "kube-copy", type: "module" }));
  ({ KubeError: Other } = (await import(pathToFileURL(join(copyDir, "dist", "index.js")).href)) as {
    KubeError: typeof KubeError;
  });
});

afterAll(async () => {
  if (copyDir) await rm(copyDir, { recursive: true, force: true });
});

describe("KubeError across two installed copies", () => {
  it("is a different class object, yet instanceof holds both ways", () => {
    expect(Other).not.toBe(KubeError);
    const fromOther = new Other("Conflict", "the object has been modified", { httpStatus: 409 });
    const fromHere = new KubeError("NotFound", 'nodes "n1" not found', { httpStatus: 404 });
    expect(fromOther instanceof KubeError).toBe(true);
    expect(fromHere instanceof Other).toBe(true);
    expect(new Error("plain") instanceof KubeError).toBe(false);
    expect((null as unknown as object) instanceof Other).toBe(false);
  });

  it("KubeError.from keeps the other copy's error, code and status included", () => {
    const fromOther = new Other("Conflict", "the object has been modified", {
      httpStatus: 409,
      reason: "Conflict",
    });
    const k = KubeError.from(fromOther);
    expect(k).toBe(fromOther);
    expect(k).toMatchObject({ code: "Conflict", httpStatus: 409, reason: "Conflict" });
  });

  it("a subclass keeps the ordinary prototype check", () => {
    class SubError extends KubeError {}
    expect(new SubError("Gone", "expired") instanceof KubeError).toBe(true);
    expect(new SubError("Gone", "expired") instanceof SubError).toBe(true);
    expect(new KubeError("Gone", "expired") instanceof SubError).toBe(false);
  });
});
