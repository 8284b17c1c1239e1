import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readFile, rename, rm, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { TestkitError } from "./errors.js";
import { run } from "./exec.js";
import { ensureHostPackages } from "./host-packages.js";
import { cacheDir } from "./paths.js";

/** An OCI image layout on disk holding one tagged image. */
export interface OciImage {
  /** The OCI layout directory (umoci/skopeo `oci:<dir>:<tag>`). */
  readonly layoutDir: string;
  readonly tag: string;
  /** The reference it is imported under in containerd, e.g. `kubenode.test/busybox:1.0`. */
  readonly ref: string;
  /** The repository part of `ref`, e.g. `kubenode.test/busybox`. */
  readonly repository: string;
}

export interface TestImages {
  /** Static busybox with every applet linked in /bin; default command `sh`. */
  readonly busybox: OciImage;
  /** A tiny sandbox ("pause") image: sleeps until SIGTERM/SIGINT and exits 0. */
  readonly pause: OciImage;
}

const BUSYBOX = "/bin/busybox";
// `.test` is a reserved top-level domain: these references can never resolve to a real registry.
const REPO = "kubenode.test";
const TAG = "1.0";
// Bump when the recipe below changes, so cached layouts are rebuilt.
const RECIPE = 2;

// Waits for a signal with a shell builtin so PID 1 reacts to SIGTERM at once (a bare `sleep`
// as PID 1 has no default signal handlers and would ignore it).
const PAUSE_SCRIPT = 'trap "exit 0" TERM INT; while :; do sleep 3600 & wait $!; done';

async function buildLayout(dir: string, name: string, config: string[]): Promise<void> {
  const layout = join(dir, name);
  const bundle = join(dir, `${name}-bundle`);
  await run(["umoci", "init", "--layout", layout]);
  await run(["umoci", "new", "--image", `${layout}:build`]);
  await run(["umoci", "unpack", "--image", `${layout}:build`, bundle]);
  const rootfs = join(bundle, "rootfs");
  for (const d of ["bin", "etc", "tmp", "proc", "sys", "dev", "root", "var"])
    await mkdir(join(rootfs, d), { recursive: true });
  await writeFile(join(rootfs, "bin", "busybox"), await readFile(BUSYBOX), { mode: 0o755 });
  const { stdout } = await run([BUSYBOX, "--list"]);
  for (const applet of stdout.split("\n").filter((a) => a && a !== "busybox")) {
    await symlink("busybox", join(rootfs, "bin", applet));
  }
  await writeFile(
    join(rootfs, "etc", "passwd"),
    "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/:/bin/false\n",
  );
  await writeFile(join(rootfs, "etc", "group"), "root:x:0:\nnogroup:x:65534:\n");
  await run(["umoci", "repack", "--image", `${layout}:build`, bundle]);
  await run([
    "umoci",
    "config",
    "--image",
    `${layout}:build`,
    "--tag",
    TAG,
    "--config.env=PATH=/bin",
    ...config,
  ]);
  await run(["umoci", "rm", "--image", `${layout}:build`]);
  await run(["umoci", "gc", "--layout", layout]);
  await rm(bundle, { recursive: true, force: true });
}

let building: Promise<TestImages> | undefined;

/**
 * Builds (once per machine, then from the cache) the images tests need, from Debian's static
 * busybox and without any network: `busybox` for workloads and `pause` for pod sandboxes.
 */
export function buildTestImages(): Promise<TestImages> {
  building ??= build().catch((err) => {
    building = undefined;
    throw TestkitError.from(err);
  });
  return building;
}

async function build(): Promise<TestImages> {
  await ensureHostPackages(["umoci", "busybox-static"]);
  const key = createHash("sha256")
    .update(await readFile(BUSYBOX))
    .update(String(RECIPE))
    .digest("hex")
    .slice(0, 16);
  const dir = cacheDir("images", key);
  const image = (name: string): OciImage => ({
    layoutDir: join(dir, name),
    tag: TAG,
    ref: `${REPO}/${name}:${TAG}`,
    repository: `${REPO}/${name}`,
  });
  if (!existsSync(join(dir, "complete"))) {
    const staging = `${dir}.staging-${process.pid}`;
    await rm(staging, { recursive: true, force: true });
    await mkdir(staging, { recursive: true });
    try {
      await buildLayout(staging, "busybox", ["--config.cmd=sh"]);
      await buildLayout(staging, "pause", [
        "--config.entrypoint=/bin/sh",
        "--config.entrypoint=-c",
        `--config.entrypoint=${PAUSE_SCRIPT}`,
      ]);
      await writeFile(join(staging, "complete"), "");
      await mkdir(join(dir, ".."), { recursive: true });
      // Atomic: a concurrent builder either wins the rename or finds a complete cache entry.
      await rename(staging, dir).catch((err) => {
        if (!existsSync(join(dir, "complete"))) throw err;
      });
    } finally {
      await rm(staging, { recursive: true, force: true });
    }
  }
  return { busybox: image("busybox"), pause: image("pause") };
}
