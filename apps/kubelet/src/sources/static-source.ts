// Static pods from a manifest file or directory (upstream config/file.go, file_linux.go, common.go):
// every regular file not starting with "." is one Pod in YAML or JSON, whatever its extension; the
// directory is re-read every fileCheckFrequency (and at once on a change notification). A bad file is
// reported and skipped; the others still run.
import { createHash } from "node:crypto";
import { type FSWatcher, watch } from "node:fs";
import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import type { Clock, Logger, TimerHandle } from "@kubenode/kube";
import { parse as parseYaml } from "yaml";
import type { Pod } from "../api.js";
import {
  CONFIG_HASH_ANNOTATION,
  CONFIG_SEEN_ANNOTATION,
  CONFIG_SOURCE_ANNOTATION,
  configSeenTime,
  type PodSource,
  type PodSourceHandler,
} from "./types.js";

/** Options of {@link createStaticPodSource}. */
export interface StaticPodSourceOptions {
  /** A manifest file or a directory of them. */
  path: string;
  nodeName: string;
  clock: Clock;
  logger: Logger;
  handler: PodSourceHandler;
  /** Re-read period, default 20 000 ms (upstream fileCheckFrequency). */
  checkIntervalMs?: number;
}

/** A manifest that could not be used, with why. */
export interface ManifestError {
  file: string;
  message: string;
}

const MAX_MANIFEST_BYTES = 10 * 1024 * 1024;
const DNS1123_LABEL = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/;
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

function fail(message: string): never {
  throw new Error(message);
}

/** Validates what the kubelet relies on; throws an Error naming the bad field. */
export function validateStaticPod(obj: unknown): Pod {
  if (!obj || typeof obj !== "object" || Array.isArray(obj)) fail("not an object");
  const pod = obj as Pod;
  if (pod.kind !== undefined && pod.kind !== "Pod") fail(`kind is ${JSON.stringify(pod.kind)}, want "Pod"`);
  if (pod.apiVersion !== undefined && pod.apiVersion !== "v1")
    fail(`apiVersion is ${JSON.stringify(pod.apiVersion)}, want "v1"`);
  const name = pod.metadata?.name;
  if (!name) fail("metadata.name is missing");
  if (typeof name !== "string" || name.length > 253 || !DNS1123_SUBDOMAIN.test(name))
    fail(`metadata.name ${JSON.stringify(name)} is not a valid DNS-1123 subdomain`);
  const ns = pod.metadata.namespace;
  if (ns !== undefined && (typeof ns !== "string" || ns.length > 63 || !DNS1123_LABEL.test(ns)))
    fail(`metadata.namespace ${JSON.stringify(ns)} is not a valid DNS-1123 label`);
  const containers = pod.spec?.containers;
  if (!Array.isArray(containers) || containers.length === 0)
    fail("spec.containers: at least one container is required");
  const names = new Set<string>();
  containers.forEach((c, i) => {
    if (!c || typeof c !== "object") fail(`spec.containers[${i}] is not an object`);
    if (typeof c.name !== "string" || c.name.length > 63 || !DNS1123_LABEL.test(c.name))
      fail(`spec.containers[${i}].name ${JSON.stringify(c.name)} is not a valid DNS-1123 label`);
    if (names.has(c.name)) fail(`spec.containers[${i}].name "${c.name}" is duplicated`);
    names.add(c.name);
    if (typeof c.image !== "string" || c.image.trim() === "") fail(`spec.containers[${i}].image is required`);
  });
  const rp = pod.spec.restartPolicy;
  if (rp !== undefined && rp !== "Always" && rp !== "OnFailure" && rp !== "Never")
    fail(`spec.restartPolicy ${JSON.stringify(rp)} is not one of Always, OnFailure, Never`);
  return pod;
}

/**
 * Applies the kubelet's static pod defaults (config/common.go applyDefaults) plus the API defaults a
 * pod from the API would carry: UID from content, path and node (unless set); name suffixed with the
 * node name; namespace default; bound to this node; config annotations; NoExecute toleration.
 */
export function defaultStaticPod(raw: Pod, file: string, nodeName: string, seenMs: number): Pod {
  const uid =
    raw.metadata.uid ??
    createHash("sha256")
      .update(JSON.stringify(raw))
      .update(`host:${nodeName}`)
      .update(`file:${file}`)
      .digest("hex")
      .slice(0, 32);
  const spec = { ...raw.spec };
  spec.nodeName = nodeName;
  spec.restartPolicy ??= "Always";
  spec.terminationGracePeriodSeconds ??= 30;
  spec.dnsPolicy ??= "ClusterFirst";
  spec.tolerations = [...(spec.tolerations ?? []), { operator: "Exists", effect: "NoExecute" }];
  spec.containers = spec.containers.map((c) => ({
    terminationMessagePath: "/dev/termination-log",
    terminationMessagePolicy: "File",
    ...c,
  }));
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      ...raw.metadata,
      name: `${raw.metadata.name}-${nodeName.toLowerCase()}`,
      namespace: raw.metadata.namespace ?? "default",
      uid,
      annotations: {
        ...raw.metadata.annotations,
        [CONFIG_HASH_ANNOTATION]: uid,
        [CONFIG_SOURCE_ANNOTATION]: "file",
        [CONFIG_SEEN_ANNOTATION]: configSeenTime(seenMs),
      },
    },
    spec,
    status: { phase: "Pending" },
  };
}

/** Reads one manifest file into a defaulted static pod; throws with the reason. */
export async function readManifest(file: string, nodeName: string, seenMs: number): Promise<Pod> {
  const st = await stat(file);
  if (st.size > MAX_MANIFEST_BYTES) throw new Error(`larger than ${MAX_MANIFEST_BYTES} bytes`);
  const text = await readFile(file, "utf8");
  let obj: unknown;
  try {
    obj = parseYaml(text); // YAML is a superset of JSON
  } catch (err) {
    throw new Error(`not valid YAML or JSON: ${(err as Error).message.split("\n")[0]}`);
  }
  const pod = defaultStaticPod(validateStaticPod(obj), file, nodeName, seenMs);
  // Upstream validates the pod after suffixing its name with the node's (config/common.go).
  if (pod.metadata.name!.length > 253)
    throw new Error(
      `metadata.name ${JSON.stringify(pod.metadata.name)} is longer than 253 characters once suffixed with the node name`,
    );
  return pod;
}

export function createStaticPodSource(
  options: StaticPodSourceOptions,
): PodSource & { readonly errors: readonly ManifestError[]; rescan(): Promise<void> } {
  const { clock, handler } = options;
  const log = options.logger.withName("source.file");
  const interval = options.checkIntervalMs ?? 20_000;
  let current = new Map<string, Pod>();
  let errors: ManifestError[] = [];
  const reported = new Set<string>();
  let timer: TimerHandle | undefined;
  let watcher: FSWatcher | undefined;
  let scanning: Promise<void> | undefined;
  let rescanRequested = false;
  let stopped = true;
  let isSynced = false;

  /**
   * The manifest files to read, and the entries that cannot be one, with why. Like upstream
   * (file.go extractFromDir), entries are stat'ed through symlinks: a directory is not recursed
   * into, anything but a regular file (a FIFO, a socket, a device) is never opened, and an entry
   * that cannot be stat'ed (a symlink loop, a dangling link) is reported; none stops the others.
   */
  async function listFiles(): Promise<{ files: string[]; skipped: ManifestError[] }> {
    let st: Awaited<ReturnType<typeof stat>>;
    try {
      st = await stat(options.path);
    } catch (err) {
      // a missing path is an empty set
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return { files: [], skipped: [] };
      throw err;
    }
    if (st.isFile()) return { files: [options.path], skipped: [] };
    const names = (await readdir(options.path)).filter((n) => !n.startsWith(".")).sort();
    const files: string[] = [];
    const skipped: ManifestError[] = [];
    for (const name of names) {
      const file = join(options.path, name);
      try {
        const entry = await stat(file);
        if (entry.isFile()) files.push(file);
        else if (entry.isDirectory())
          skipped.push({ file, message: "is a directory: manifest directories are not recursed into" });
        else skipped.push({ file, message: "is not a regular file (a FIFO, socket or device): not read" });
      } catch (err) {
        const e = err as NodeJS.ErrnoException;
        skipped.push({
          file,
          message: `cannot stat it: ${e.code ?? e.message}${e.code === "ELOOP" ? " (symlink loop)" : ""}`,
        });
      }
    }
    return { files, skipped };
  }

  async function scanOnce(): Promise<void> {
    const next = new Map<string, Pod>();
    const { files, skipped } = await listFiles();
    const nextErrors: ManifestError[] = [];
    const report = (e: ManifestError) => {
      nextErrors.push(e);
      const key = `${e.file}\0${e.message}`;
      if (!reported.has(key)) {
        reported.add(key);
        log.error("static pod manifest skipped", undefined, { file: e.file, reason: e.message });
      }
    };
    for (const e of skipped) report(e);
    const fileOfName = new Map<string, string>();
    for (const file of files) {
      try {
        // A pod keeps its first-seen time while its content (so its UID) stays the same.
        const pod = await readManifest(file, options.nodeName, clock.now());
        const uid = pod.metadata.uid!;
        const prev = current.get(uid);
        if (prev?.metadata.annotations) {
          pod.metadata.annotations![CONFIG_SEEN_ANNOTATION] =
            prev.metadata.annotations[CONFIG_SEEN_ANNOTATION]!;
        }
        if (next.has(uid)) throw new Error(`same pod as another manifest (UID ${uid})`);
        // Upstream (config.go filterInvalidPods) keeps the first pod of a name and ignores the rest.
        const fullName = `${pod.metadata.namespace}/${pod.metadata.name}`;
        const first = fileOfName.get(fullName);
        if (first !== undefined)
          throw new Error(`duplicate pod name ${fullName} (also in ${first}): ignored`);
        fileOfName.set(fullName, file);
        next.set(uid, pod);
      } catch (err) {
        report({ file, message: (err as Error).message });
      }
    }
    errors = nextErrors;
    for (const [uid, pod] of next) {
      if (!current.has(uid))
        log.info("static pod found", { pod: `${pod.metadata.namespace}/${pod.metadata.name}`, uid });
      if (!current.has(uid)) handler.upsert(pod);
    }
    for (const uid of current.keys()) if (!next.has(uid)) handler.remove(uid);
    current = next;
    isSynced = true;
  }

  function rescan(): Promise<void> {
    if (scanning) {
      rescanRequested = true;
      return scanning;
    }
    scanning = (async () => {
      do {
        rescanRequested = false;
        try {
          await scanOnce();
        } catch (err) {
          log.error("reading static pod manifests failed", err, { path: options.path });
        }
      } while (rescanRequested && !stopped);
    })().finally(() => {
      scanning = undefined;
    });
    return scanning;
  }

  function loop(): void {
    if (stopped) return;
    void rescan().finally(() => {
      if (!stopped) timer = clock.setTimeout(loop, interval);
    });
  }

  return {
    name: "file",
    get errors() {
      return errors;
    },
    rescan,
    async start() {
      stopped = false;
      await rescan();
      try {
        // On Linux upstream also watches with inotify so changes apply at once.
        watcher = watch(options.path, { persistent: false }, () => void rescan());
        watcher.on("error", () => {});
      } catch {
        // The path may not exist yet: the periodic re-read covers it.
      }
      timer = clock.setTimeout(loop, interval);
    },
    async stop() {
      stopped = true;
      if (timer) clock.clearTimeout(timer);
      watcher?.close();
      await scanning;
    },
    synced: () => isSynced,
  };
}
