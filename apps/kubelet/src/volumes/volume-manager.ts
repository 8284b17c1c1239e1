// Pod volumes (upstream pkg/volume/{emptydir,hostpath,configmap,secret,downwardapi,projected} and
// the volume manager's mount/unmount): each volume of a pod is set up under
// `<rootDir>/pods/<uid>/volumes/kubernetes.io~<plugin>/<name>` before its containers start, refreshed
// on every pod sync (so configMap/secret changes reach running pods through the atomic writer's
// `..data` swap), and torn down (tmpfs unmounted, directories removed) when the pod goes.
import { constants } from "node:fs";
import { chmod, lstat, mkdir, open, readdir, realpath, rm, stat } from "node:fs/promises";
import { isAbsolute, join, posix } from "node:path";
import { type Clock, type Logger, parseQuantity, silentLogger } from "@kubenode/kube";
import type { Container, Pod } from "../api.js";
import { type DownwardContext, podFieldValue, resourceFieldValue } from "../env/field-ref.js";
import type { ObjectSource } from "../object-source.js";
import { POD_UID } from "../pod-dirs.js";
import { bytesOf } from "../qos.js";
import { expandVars } from "../runtime/cri-config.js";
import { type ContainerMount, RuntimeStepError } from "../runtime/types.js";
import {
  type FileProjection,
  InvalidPayloadPathError,
  validatePayloadPath,
  writeAtomic,
} from "./atomic-writer.js";
import { createHostMounter, type Mounter } from "./mounter.js";
import { setVolumeOwnership, validFsGroup } from "./ownership.js";
import { createTokenManager, type TokenManager } from "./token-manager.js";

/** A volume ready on the host. */
export interface MountedVolume {
  hostPath: string;
  /** API-data volumes (configMap, secret, downwardAPI, projected) are always mounted read-only. */
  readOnly: boolean;
}

/** Volumes of a pod by name. */
export type PodVolumes = Map<string, MountedVolume>;

/** One or more volumes of a pod could not be set up; each failure names its volume. */
export class VolumeSetupError extends Error {
  override readonly name = "VolumeSetupError";
  readonly failures: { volume: string; message: string }[];
  constructor(failures: { volume: string; message: string }[]) {
    super(failures.map((f) => `MountVolume.SetUp failed for volume "${f.volume}" : ${f.message}`).join("; "));
    this.failures = failures;
  }
}

export interface VolumeManager {
  /**
   * Sets up (or refreshes) every volume of `pod`. Throws {@link VolumeSetupError} listing each
   * volume that failed, after trying all of them.
   */
  setupPod(pod: Pod, downward: DownwardContext): Promise<PodVolumes>;
  /**
   * The container's mounts (makeMounts): volume, mountPath, subPath/subPathExpr, readOnly,
   * mountPropagation. Throws {@link RuntimeStepError} CreateContainerConfigError for a bad mount.
   */
  containerMounts(
    pod: Pod,
    container: Container,
    volumes: PodVolumes,
    env: ReadonlyMap<string, string>,
  ): Promise<ContainerMount[]>;
  /** Unmounts and removes everything of the pod under the root dir. Runs every step; reports all failures. */
  teardownPod(uid: string): Promise<void>;
  /** Tears down pod directories of UIDs not in `known` (upstream cleanupOrphanedPodDirs). */
  cleanupOrphans(known: ReadonlySet<string>): Promise<void>;
}

export interface VolumeManagerOptions {
  /** The kubelet root dir (`--root-dir`). */
  rootDir: string;
  /** Where configMaps, secrets and tokens come from; absent (standalone) such volumes fail clearly. */
  objects?: ObjectSource;
  clock: Clock;
  logger?: Logger;
  mounter?: Mounter;
  tokens?: TokenManager;
}

type Json = Record<string, unknown>;

interface KeyToPath {
  key: string;
  path: string;
  mode?: number;
}

const SUPPORTED = ["emptyDir", "hostPath", "configMap", "secret", "downwardAPI", "projected"] as const;
type Plugin = (typeof SUPPORTED)[number];
const PLUGIN_DIR: Record<Exclude<Plugin, "hostPath">, string> = {
  emptyDir: "kubernetes.io~empty-dir",
  configMap: "kubernetes.io~configmap",
  secret: "kubernetes.io~secret",
  downwardAPI: "kubernetes.io~downward-api",
  projected: "kubernetes.io~projected",
};
// Sources a pod volume may name that this kubelet has no plugin for.
const KNOWN_UNSUPPORTED = [
  "persistentVolumeClaim",
  "ephemeral",
  "csi",
  "nfs",
  "iscsi",
  "rbd",
  "cephfs",
  "fc",
  "flexVolume",
  "glusterfs",
  "image",
  "gitRepo",
  "awsElasticBlockStore",
  "gcePersistentDisk",
  "azureDisk",
  "azureFile",
  "cinder",
  "vsphereVolume",
  "portworxVolume",
  "quobyte",
  "scaleIO",
  "storageos",
  "flocker",
  "photonPersistentDisk",
];

const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DEFAULT_MODE = 0o644;

/** The volume source type of a pod volume: the one key besides `name`. */
export function volumeType(volume: Json): string | undefined {
  return Object.keys(volume).find((k) => k !== "name" && volume[k] !== undefined && volume[k] !== null);
}

function checkMode(mode: unknown, what: string): number {
  if (mode === undefined || mode === null) return DEFAULT_MODE;
  if (typeof mode !== "number" || !Number.isInteger(mode) || mode < 0 || mode > 0o777)
    throw new Error(`${what} ${String(mode)} must be a number between 0 and 0777 (octal), both inclusive`);
  return mode;
}

/** The host path of a pod's volume (`pods/<uid>/volumes/kubernetes.io~<plugin>/<name>`). */
export function podVolumeDir(rootDir: string, uid: string, plugin: string, name: string): string {
  return join(rootDir, "pods", uid, "volumes", plugin, name);
}

async function existsAs(path: string): Promise<import("node:fs").Stats | undefined> {
  try {
    return await stat(path);
  } catch {
    return undefined;
  }
}

/**
 * hostPath type checks (pkg/volume/hostpath checkType): `DirectoryOrCreate` and `FileOrCreate`
 * create what is missing (0755 directories, 0644 empty file, parent not created); the others
 * require the path to exist as that kind of file.
 */
export async function checkHostPathType(path: string, type: string | undefined): Promise<void> {
  const fail = (what: string) => new Error(`hostPath type check failed: ${path} is not ${what}`);
  const st = await existsAs(path);
  switch (type ?? "") {
    case "":
      return;
    case "DirectoryOrCreate":
      if (!st) {
        await mkdir(path, { recursive: true, mode: 0o755 });
        return;
      }
      if (!st.isDirectory()) throw fail("a directory");
      return;
    case "Directory":
      if (!st?.isDirectory()) throw fail("a directory");
      return;
    case "FileOrCreate":
      if (!st) {
        try {
          const fh = await open(path, constants.O_CREAT | constants.O_WRONLY, 0o644);
          await fh.close();
        } catch (err) {
          throw new Error(
            `hostPath type check failed: cannot create file ${path}: ${(err as Error).message}`,
            { cause: err },
          );
        }
        return;
      }
      if (!st.isFile()) throw fail("a file");
      return;
    case "File":
      if (!st?.isFile()) throw fail("a file");
      return;
    case "Socket":
      if (!st?.isSocket()) throw fail("a socket file");
      return;
    case "CharDevice":
      if (!st?.isCharacterDevice()) throw fail("a character device");
      return;
    case "BlockDevice":
      if (!st?.isBlockDevice()) throw fail("a block device");
      return;
    default:
      throw new Error(
        `hostPath type ${JSON.stringify(type)} is not one of DirectoryOrCreate, Directory, FileOrCreate, File, Socket, CharDevice, BlockDevice`,
      );
  }
}

/** A relative path inside a volume (subPath, item paths): no absolute path, no `..` element. */
export function validateSubPath(path: string, what: string): void {
  if (isAbsolute(path)) throw new Error(`${what} ${JSON.stringify(path)} must be a relative path`);
  if (path.split("/").includes(".."))
    throw new Error(`${what} ${JSON.stringify(path)} must not contain '..'`);
}

function b64(s: string): Buffer {
  return Buffer.from(s, "base64");
}

function memoryLimitBytes(pod: Pod): number | undefined {
  // SizeMemoryBackedVolumes: the pod's memory limit caps a memory emptyDir when every container has one.
  const limits = pod.spec.containers.map((c) => bytesOf(c.resources?.limits));
  if (limits.length === 0 || limits.some((l) => l === undefined)) return undefined;
  return (limits as number[]).reduce((a, b) => a + b, 0);
}

export function createVolumeManager(options: VolumeManagerOptions): VolumeManager {
  const log = (options.logger ?? silentLogger).withName("volumes");
  const mounter = options.mounter ?? createHostMounter();
  const objects = options.objects;
  const tokens =
    options.tokens ?? (objects ? createTokenManager({ objects, clock: options.clock }) : undefined);
  const podsDir = join(options.rootDir, "pods");

  function needObjects(what: string): ObjectSource {
    if (!objects) throw new Error(`${what} needs the API server; this kubelet runs standalone`);
    return objects;
  }

  async function ensureTmpfs(dir: string, sizeBytes?: number): Promise<void> {
    await mkdir(dir, { recursive: true, mode: 0o755 });
    const points = await mounter.mountPointsUnder(dir);
    const real = await realpath(dir);
    if (!points.includes(real)) await mounter.mountTmpfs(dir, sizeBytes);
  }

  function keyItems(
    all: Map<string, Buffer>,
    items: KeyToPath[] | undefined,
    defaultMode: number,
    optional: boolean,
    missingKey: (key: string) => string,
  ): Map<string, FileProjection> {
    const payload = new Map<string, FileProjection>();
    if (!items || items.length === 0) {
      for (const [k, data] of all) payload.set(k, { data, mode: defaultMode });
      return payload;
    }
    for (const item of items) {
      const data = all.get(item.key);
      if (data === undefined) {
        if (optional) continue;
        throw new Error(missingKey(item.key));
      }
      validatePayloadPath(item.path);
      payload.set(item.path, {
        data,
        mode: item.mode !== undefined ? checkMode(item.mode, "mode") : defaultMode,
      });
    }
    return payload;
  }

  async function configMapPayload(
    ns: string,
    src: { name?: string; items?: KeyToPath[]; optional?: boolean },
    defaultMode: number,
  ): Promise<Map<string, FileProjection>> {
    const name = src.name ?? "";
    const cm = await needObjects(`configMap ${name}`).getConfigMap(ns, name);
    if (!cm) {
      if (src.optional) return new Map();
      throw new Error(`configmap "${name}" not found`);
    }
    const all = new Map<string, Buffer>();
    for (const [k, v] of Object.entries(cm.data ?? {})) all.set(k, Buffer.from(v, "utf8"));
    for (const [k, v] of Object.entries(cm.binaryData ?? {})) all.set(k, b64(v));
    return keyItems(
      all,
      src.items,
      defaultMode,
      src.optional === true,
      (k) => `configmap references non-existent config key: ${k}`,
    );
  }

  async function secretPayload(
    ns: string,
    name: string,
    src: { items?: KeyToPath[]; optional?: boolean },
    defaultMode: number,
  ): Promise<Map<string, FileProjection>> {
    const secret = await needObjects(`secret ${name}`).getSecret(ns, name);
    if (!secret) {
      if (src.optional) return new Map();
      throw new Error(`secret "${name}" not found`);
    }
    const all = new Map<string, Buffer>();
    for (const [k, v] of Object.entries(secret.data ?? {})) all.set(k, b64(v));
    return keyItems(
      all,
      src.items,
      defaultMode,
      src.optional === true,
      (k) => `references non-existent secret key: ${k}`,
    );
  }

  function downwardPayload(
    pod: Pod,
    items: {
      path: string;
      mode?: number;
      fieldRef?: { fieldPath: string };
      resourceFieldRef?: { containerName?: string; resource: string; divisor?: string | number };
    }[],
    defaultMode: number,
    ctx: DownwardContext,
  ): Map<string, FileProjection> {
    const payload = new Map<string, FileProjection>();
    for (const item of items) {
      validatePayloadPath(item.path);
      let value: string;
      if (item.fieldRef) value = podFieldValue(pod, item.fieldRef.fieldPath, ctx, true);
      else if (item.resourceFieldRef) {
        const r = item.resourceFieldRef;
        value = resourceFieldValue(pod, r.containerName ?? "", r.resource, r.divisor, ctx);
      } else
        throw new Error(
          `downwardAPI item ${JSON.stringify(item.path)} has neither fieldRef nor resourceFieldRef`,
        );
      payload.set(item.path, {
        data: Buffer.from(value, "utf8"),
        mode: item.mode !== undefined ? checkMode(item.mode, "mode") : defaultMode,
      });
    }
    return payload;
  }

  async function projectedPayload(
    pod: Pod,
    src: Json,
    ctx: DownwardContext,
  ): Promise<Map<string, FileProjection>> {
    const ns = pod.metadata.namespace ?? "default";
    const defaultMode = checkMode(src.defaultMode, "defaultMode");
    const payload = new Map<string, FileProjection>();
    const add = (m: Map<string, FileProjection>) => {
      for (const [k, v] of m) payload.set(k, v);
    };
    for (const s of (src.sources ?? []) as Json[]) {
      if (s.configMap) add(await configMapPayload(ns, s.configMap as never, defaultMode));
      else if (s.secret) {
        const sec = s.secret as { name?: string; items?: KeyToPath[]; optional?: boolean };
        add(await secretPayload(ns, sec.name ?? "", sec, defaultMode));
      } else if (s.downwardAPI)
        add(downwardPayload(pod, ((s.downwardAPI as Json).items ?? []) as never, defaultMode, ctx));
      else if (s.serviceAccountToken) {
        const t = s.serviceAccountToken as { audience?: string; expirationSeconds?: number; path: string };
        validatePayloadPath(t.path);
        if (!tokens)
          throw new Error("serviceAccountToken needs the API server; this kubelet runs standalone");
        const sa = (pod.spec.serviceAccountName as string | undefined) || "default";
        const token = await tokens.getToken(ns, sa, {
          audiences: t.audience ? [t.audience] : [],
          expirationSeconds: t.expirationSeconds ?? 3600,
          boundPod: { name: pod.metadata.name ?? "", uid: pod.metadata.uid ?? "" },
        });
        payload.set(t.path, { data: Buffer.from(token, "utf8"), mode: defaultMode });
      } else {
        const kind = Object.keys(s)[0] ?? "(empty)";
        throw new Error(`unsupported projected volume source ${JSON.stringify(kind)}`);
      }
    }
    return payload;
  }

  async function setupVolume(pod: Pod, volume: Json, ctx: DownwardContext): Promise<MountedVolume> {
    const name = String(volume.name ?? "");
    if (!DNS1123_LABEL.test(name) || name.length > 63)
      throw new Error(`volume name ${JSON.stringify(name)} is not a valid DNS-1123 label`);
    const type = volumeType(volume);
    if (!type) throw new Error("volume has no source");
    if (!(SUPPORTED as readonly string[]).includes(type)) {
      const known = KNOWN_UNSUPPORTED.includes(type) ? "" : " (unknown)";
      throw new Error(
        `unsupported volume type ${JSON.stringify(type)}${known}: this kubelet supports ${SUPPORTED.join(", ")}`,
      );
    }
    const src = (volume[type] ?? {}) as Json;
    const ns = pod.metadata.namespace ?? "default";
    const uid = pod.metadata.uid ?? "";
    const now = options.clock.now();
    if (type === "hostPath") {
      const path = String(src.path ?? "");
      if (!isAbsolute(path)) throw new Error(`hostPath ${JSON.stringify(path)} must be an absolute path`);
      if (path.split("/").includes(".."))
        throw new Error(`hostPath ${JSON.stringify(path)} must not contain '..'`);
      await checkHostPathType(path, src.type as string | undefined);
      return { hostPath: path, readOnly: false };
    }
    const dir = podVolumeDir(options.rootDir, uid, PLUGIN_DIR[type as Exclude<Plugin, "hostPath">], name);
    // fsGroup: the volume's files belong to the pod's group (hostPath volumes are left alone).
    const psc = pod.spec.securityContext;
    const fsGroup = psc?.fsGroup !== undefined ? validFsGroup(psc.fsGroup) : undefined;
    const own = (readOnly: boolean) => async () => {
      if (fsGroup !== undefined)
        await setVolumeOwnership(dir, fsGroup, { readOnly, policy: psc?.fsGroupChangePolicy });
    };
    const writeVolume = (payload: Parameters<typeof writeAtomic>[1]) =>
      writeAtomic(dir, payload, now, own(true));
    switch (type) {
      case "emptyDir": {
        // Set up once: the mode and ownership of a new directory, never reset under a running pod.
        const fresh = (await existsAs(dir)) === undefined;
        if (src.medium === "Memory") {
          const limit = src.sizeLimit !== undefined ? parseQuantity(String(src.sizeLimit)).amount : undefined;
          const podLimit = memoryLimitBytes(pod);
          const candidates = [limit, podLimit].filter((v): v is number => v !== undefined && v > 0);
          await ensureTmpfs(dir, candidates.length > 0 ? Math.ceil(Math.min(...candidates)) : undefined);
        } else if (src.medium && src.medium !== "") {
          throw new Error(
            `emptyDir medium ${JSON.stringify(src.medium)} is not supported (use "" or "Memory")`,
          );
        } else {
          await mkdir(dir, { recursive: true });
        }
        if (fresh) {
          await chmod(dir, 0o777);
          await own(false)();
        }
        return { hostPath: dir, readOnly: false };
      }
      case "configMap": {
        const payload = await configMapPayload(ns, src as never, checkMode(src.defaultMode, "defaultMode"));
        await mkdir(dir, { recursive: true, mode: 0o755 });
        await writeVolume(payload);
        return { hostPath: dir, readOnly: true };
      }
      case "secret": {
        const payload = await secretPayload(
          ns,
          String(src.secretName ?? ""),
          src as never,
          checkMode(src.defaultMode, "defaultMode"),
        );
        await ensureTmpfs(dir);
        await writeVolume(payload);
        return { hostPath: dir, readOnly: true };
      }
      case "downwardAPI": {
        const payload = downwardPayload(
          pod,
          (src.items ?? []) as never,
          checkMode(src.defaultMode, "defaultMode"),
          ctx,
        );
        await ensureTmpfs(dir);
        await writeVolume(payload);
        return { hostPath: dir, readOnly: true };
      }
      case "projected": {
        const payload = await projectedPayload(pod, src, ctx);
        await ensureTmpfs(dir);
        await writeVolume(payload);
        return { hostPath: dir, readOnly: true };
      }
    }
    throw new Error(`unsupported volume type ${JSON.stringify(type)}`);
  }

  async function teardownDir(podDir: string): Promise<void> {
    const errors: unknown[] = [];
    for (const point of await mounter.mountPointsUnder(podDir)) {
      await mounter.unmount(point).catch((e) => errors.push(e));
    }
    if (errors.length > 0)
      throw new AggregateError(
        errors,
        `unmounting the volumes of ${podDir} failed: ${errors.map((e) => (e instanceof Error ? e.message : String(e))).join("; ")}`,
      );
    // Never remove files while something is still mounted under the pod directory.
    const left = await mounter.mountPointsUnder(podDir);
    if (left.length > 0) throw new Error(`not removing ${podDir}: still mounted: ${left.join(", ")}`);
    await rm(podDir, { recursive: true, force: true });
  }

  return {
    async setupPod(pod, downward) {
      const uid = pod.metadata.uid ?? "";
      if (!POD_UID.test(uid))
        throw new VolumeSetupError([
          { volume: "*", message: `pod UID ${JSON.stringify(uid)} is not usable as a directory name` },
        ]);
      const out: PodVolumes = new Map();
      const failures: { volume: string; message: string }[] = [];
      for (const v of (pod.spec.volumes ?? []) as Json[]) {
        const name = String(v.name ?? "");
        try {
          out.set(name, await setupVolume(pod, v, downward));
        } catch (err) {
          const message =
            err instanceof InvalidPayloadPathError || err instanceof Error ? err.message : String(err);
          failures.push({ volume: name, message });
        }
      }
      if (failures.length > 0) throw new VolumeSetupError(failures);
      return out;
    },
    async containerMounts(_pod, container, volumes, env) {
      const mounts: ContainerMount[] = [];
      const bad = (msg: string) => new RuntimeStepError("CreateContainerConfigError", msg);
      for (const m of container.volumeMounts ?? []) {
        const name = m.name;
        const vol = volumes.get(name);
        if (!vol) throw bad(`cannot find volume "${name}" to mount into container "${container.name}"`);
        let hostPath = vol.hostPath;
        let subPath = m.subPath ?? "";
        if (m.subPathExpr) subPath = expandVars(m.subPathExpr, env);
        if (subPath) {
          try {
            validateSubPath(subPath, "subPath");
          } catch (err) {
            throw bad((err as Error).message);
          }
          const target = join(vol.hostPath, posix.normalize(subPath));
          // Like upstream, a missing subPath is created as a directory in a writable volume.
          if (!(await existsAs(target)) && !vol.readOnly)
            await mkdir(target, { recursive: true, mode: 0o755 });
          let real: string;
          try {
            real = await realpath(target);
          } catch {
            throw bad(`subPath ${JSON.stringify(subPath)} does not exist in volume "${name}"`);
          }
          // Symlinks in the volume must not lead out of it (upstream's safe subpath check).
          const base = await realpath(vol.hostPath);
          if (real !== base && !real.startsWith(`${base}/`))
            throw bad(`subPath ${JSON.stringify(subPath)} of volume "${name}" resolves outside the volume`);
          hostPath = real;
        }
        const propagation =
          m.mountPropagation === "HostToContainer"
            ? "HostToContainer"
            : m.mountPropagation === "Bidirectional"
              ? "Bidirectional"
              : "None";
        mounts.push({
          containerPath: m.mountPath,
          hostPath,
          readonly: vol.readOnly || m.readOnly === true,
          propagation,
        });
      }
      return mounts;
    },
    async teardownPod(uid) {
      if (!POD_UID.test(uid)) return;
      tokens?.forgetPod(uid);
      await teardownDir(join(podsDir, uid));
      log.v(3, "pod volumes torn down", { uid });
    },
    async cleanupOrphans(known) {
      let entries: string[];
      try {
        entries = await readdir(podsDir);
      } catch {
        return;
      }
      const errors: unknown[] = [];
      for (const uid of entries) {
        if (known.has(uid) || !POD_UID.test(uid)) continue;
        const st = await lstat(join(podsDir, uid)).catch(() => undefined);
        if (!st?.isDirectory()) continue;
        log.info("removing the directory of an orphaned pod", { uid });
        await this.teardownPod(uid).catch((e) => errors.push(e));
      }
      if (errors.length > 0) throw new AggregateError(errors, "cleaning up orphaned pod directories failed");
    },
  };
}
