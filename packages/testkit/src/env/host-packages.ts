import { TestkitError } from "./errors.js";
import { run } from "./exec.js";

/**
 * The Debian packages behind the real components: containerd + runc + CNI plugins for pods,
 * iptables/nftables/conntrack/iproute2 for traffic, docker-registry + skopeo + umoci +
 * busybox-static for images built and served without network.
 */
export const HOST_PACKAGES = [
  "containerd",
  "runc",
  "containernetworking-plugins",
  "iptables",
  "nftables",
  "conntrack",
  "iproute2",
  "docker-registry",
  "skopeo",
  "umoci",
  "busybox-static",
] as const;

export type HostPackage = (typeof HOST_PACKAGES)[number] | (string & {});

const isRoot = () => process.getuid?.() === 0;
const inCi = () => Boolean(process.env.CI) && process.env.CI !== "false";

async function missingPackages(names: readonly string[]): Promise<string[]> {
  // dpkg-query exits non-zero when a name is unknown but still reports the known ones.
  // biome-ignore lint/suspicious/noTemplateCurlyInString: dpkg-query format fields, not a template
  const out = await run(["dpkg-query", "-W", "-f=${Package} ${db:Status-Status}\\n", ...names]).then(
    (r) => r.stdout,
    (err: TestkitError) => err.message,
  );
  const installed = new Set(
    out
      .split("\n")
      .map((l) => l.trim().split(" "))
      .filter(([, status]) => status === "installed")
      .map(([name]) => name),
  );
  return names.filter((n) => !installed.has(n));
}

let installing: Promise<void> = Promise.resolve();

async function aptInstall(names: readonly string[]): Promise<void> {
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  // apt's own lock serialises concurrent test processes; wait for it instead of failing.
  const lock = ["-o", "DPkg::Lock::Timeout=600"];
  const install = ["apt-get", ...lock, "install", "-y", "-q", "--no-install-recommends", ...names];
  try {
    await run(install, { env, timeoutMs: 900_000 });
  } catch {
    // A fresh machine has no package lists yet: update once and try again.
    await run(["apt-get", ...lock, "update", "-q"], { env, timeoutMs: 600_000 });
    await run(install, { env, timeoutMs: 900_000 });
  }
}

/**
 * Makes sure the given Debian packages are installed, installing the missing ones with apt-get
 * when running as root. Throws a `MissingComponent` TestkitError naming what is missing when that
 * is not possible.
 */
export async function ensureHostPackages(names: readonly HostPackage[] = HOST_PACKAGES): Promise<void> {
  const step = installing.then(async () => {
    const missing = await missingPackages(names);
    if (missing.length === 0) return;
    if (!isRoot()) {
      throw new TestkitError(
        "MissingComponent",
        `missing Debian packages: ${missing.join(", ")} (run as root to install them automatically, or: apt-get install ${missing.join(" ")})`,
      );
    }
    try {
      await aptInstall(missing);
    } catch (err) {
      throw new TestkitError(
        "MissingComponent",
        `could not install ${missing.join(", ")}: ${TestkitError.from(err).message}`,
        {
          cause: err,
        },
      );
    }
    const still = await missingPackages(missing);
    if (still.length > 0) {
      throw new TestkitError("MissingComponent", `apt-get did not install: ${still.join(", ")}`);
    }
  });
  installing = step.catch(() => {});
  return step;
}

/**
 * Decides whether a test file may use the real components. Real components need root (namespaces,
 * mounts, containerd); the packages are installed when missing.
 * - root: installs what is missing and resolves true (or throws when it cannot).
 * - under CI=true: never skips; throws a MissingComponent error naming what is missing.
 * - a developer's non-root machine: resolves false after a loud warning, so the caller skips.
 */
export async function canUseRealComponents(names: readonly HostPackage[] = HOST_PACKAGES): Promise<boolean> {
  if (!isRoot()) {
    const why = `real-component tests need root (containerd, network namespaces, mounts); needed packages: ${names.join(", ")}`;
    if (inCi()) throw new TestkitError("MissingComponent", `${why}; CI must run them as root`);
    process.emitWarning(`SKIPPING real-component tests: ${why}`);
    return false;
  }
  await ensureHostPackages(names);
  return true;
}
