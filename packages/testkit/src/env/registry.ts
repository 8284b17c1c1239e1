import { type ChildProcess, spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { createWriteStream, existsSync, readFileSync } from "node:fs";
import { rm, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { join } from "node:path";
import bcrypt from "bcryptjs";
import { TestkitError } from "./errors.js";
import { run, terminate, waitFor } from "./exec.js";
import { ensureHostPackages } from "./host-packages.js";
import { buildTestImages, type OciImage } from "./images.js";
import { instanceDir } from "./paths.js";

export interface RegistryCredentials {
  username: string;
  password: string;
}

export interface RegistryOptions {
  /** Require these credentials (htpasswd basic auth, as a `kubernetes.io/dockerconfigjson` secret would carry). */
  auth?: RegistryCredentials | undefined;
  /** Push the busybox test image as `kubenode/busybox:1.0`. Default true. */
  pushTestImages?: boolean | undefined;
}

/** A private OCI registry (Debian's docker-registry, distribution 2.8) on a free 127.0.0.1 port. */
export interface Registry {
  /** `127.0.0.1:PORT`: the registry host part of image references. */
  readonly host: string;
  readonly url: string;
  /** The instance's private directory (config, storage, log). */
  readonly dir: string;
  readonly auth: RegistryCredentials | undefined;
  /** `127.0.0.1:PORT/kubenode/busybox:1.0` when the test images were pushed. */
  readonly busyboxRef: string;
  /** Pushes an OCI layout image as `<host>/<name>` (name = `repo/path:tag`) and returns the full reference. */
  push(image: OciImage, name: string): Promise<string>;
  /** Stops the registry and removes its storage. */
  stop(): Promise<void>;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once("error", reject);
    srv.listen(0, "127.0.0.1", () => {
      const addr = srv.address();
      srv.close(() => (addr && typeof addr === "object" ? resolve(addr.port) : reject(new Error("no port"))));
    });
  });
}

function registryConfig(dir: string, port: number, auth: boolean): string {
  // JSON is valid YAML, and the registry reads its config as YAML.
  return JSON.stringify({
    version: 0.1,
    log: { level: "warn", accesslog: { disabled: true } },
    storage: { filesystem: { rootdirectory: join(dir, "data") }, delete: { enabled: true } },
    http: { addr: `127.0.0.1:${port}`, secret: randomBytes(16).toString("hex") },
    ...(auth ? { auth: { htpasswd: { realm: "kubenode-testkit", path: join(dir, "htpasswd") } } } : {}),
  });
}

/**
 * Starts a private registry on 127.0.0.1 and (by default) pushes the busybox test image to it, so
 * tests exercise real pulls, with and without credentials, without any network.
 */
export async function startRegistry(options: RegistryOptions = {}): Promise<Registry> {
  await ensureHostPackages(["docker-registry", "skopeo"]);
  const { auth } = options;
  if (auth && (!auth.username || auth.username.includes(":") || !auth.password)) {
    throw new TestkitError(
      "InvalidArgument",
      "registry auth needs a username without ':' and a non-empty password",
    );
  }
  const dir = await instanceDir("registry");
  const logFile = join(dir, "registry.log");
  if (auth)
    await writeFile(join(dir, "htpasswd"), `${auth.username}:${bcrypt.hashSync(auth.password, 10)}\n`);

  let child: ChildProcess | undefined;
  let port = 0;
  // The free port may be taken between probing and binding: try a few.
  for (let attempt = 0; attempt < 5 && !child; attempt++) {
    port = await freePort();
    await writeFile(join(dir, "config.yml"), registryConfig(dir, port, Boolean(auth)));
    const c = spawn("/usr/bin/docker-registry", ["serve", join(dir, "config.yml")], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    const log = createWriteStream(logFile, { flags: "a" });
    c.stdout.pipe(log);
    c.stderr.pipe(log);
    try {
      await waitFor(
        "registry",
        async () => {
          if (c.exitCode !== null)
            throw new TestkitError("CommandFailed", `docker-registry exited ${c.exitCode}`);
          const res = await fetch(`http://127.0.0.1:${port}/v2/`).catch(() => undefined);
          // 401 is the answer of a registry that wants credentials: it is up.
          return res && (res.status === 200 || res.status === 401) ? true : undefined;
        },
        { timeoutMs: 15_000 },
      );
      child = c;
    } catch (err) {
      await terminate(c, 1_000);
      if (attempt === 4) {
        const tail = existsSync(logFile) ? readFileSync(logFile, "utf8").slice(-2000) : "";
        await rm(dir, { recursive: true, force: true });
        throw new TestkitError(
          "Timeout",
          `docker-registry did not start: ${TestkitError.from(err).message}\n${tail}`,
          { cause: err },
        );
      }
    }
  }

  const host = `127.0.0.1:${port}`;
  const push = async (image: OciImage, name: string) => {
    const ref = `${host}/${name}`;
    const creds = auth ? ["--dest-creds", `${auth.username}:${auth.password}`] : [];
    await run(
      [
        "skopeo",
        "copy",
        "--quiet",
        "--dest-tls-verify=false",
        ...creds,
        `oci:${image.layoutDir}:${image.tag}`,
        `docker://${ref}`,
      ],
      {
        timeoutMs: 120_000,
      },
    );
    return ref;
  };

  const stop = async () => {
    if (child) await terminate(child, 5_000);
    await rm(dir, { recursive: true, force: true });
  };

  let busyboxRef = "";
  if (options.pushTestImages ?? true) {
    try {
      busyboxRef = await push((await buildTestImages()).busybox, "kubenode/busybox:1.0");
    } catch (err) {
      await stop();
      throw TestkitError.from(err);
    }
  }

  return { host, url: `http://${host}`, dir, auth, busyboxRef, push, stop };
}
