import { mkdir, mkdtemp, readFile, readlink, rm, stat, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeClock } from "@kubenode/kube";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Container, Pod } from "../api.js";
import type { ObjectSource } from "../object-source.js";
import type { Mounter } from "./mounter.js";
import {
  checkHostPathType,
  createVolumeManager,
  type VolumeManager,
  VolumeSetupError,
} from "./volume-manager.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const downward = { podIPs: [], hostIPs: ["192.0.2.1"] };

/** Records tmpfs mounts instead of mounting (the real ones are covered end to end). */
function fakeMounter(): Mounter & { mounted: Map<string, number | undefined>; failUnmount: boolean } {
  const mounted = new Map<string, number | undefined>();
  const m = {
    mounted,
    failUnmount: false,
    async mountTmpfs(dir: string, size?: number) {
      mounted.set(dir, size);
    },
    async unmount(dir: string) {
      if (m.failUnmount) throw new Error(`umount ${dir} failed: target is busy`);
      mounted.delete(dir);
    },
    async mountPointsUnder(dir: string) {
      return [...mounted.keys()].filter((p) => p === dir || p.startsWith(`${dir}/`));
    },
  };
  return m;
}

const source: ObjectSource = {
  async getConfigMap(_ns, name) {
    return name === "cm" ? { data: { a: "A", b: "B" }, binaryData: { bin: b64("\u0001") } } : undefined;
  },
  async getSecret(_ns, name) {
    return name === "s" ? { data: { key: b64("K") } } : undefined;
  },
  async listServices() {
    return [];
  },
  async requestToken(_ns, sa, spec) {
    return {
      token: `token-for-${sa}-${spec.audiences.join(",")}`,
      expirationTimestampMs: Date.now() + 3600_000,
    };
  },
};

function pod(volumes: Record<string, unknown>[], container: Partial<Container> = {}): Pod {
  return {
    metadata: { name: "p", namespace: "ns", uid: "uid-1", labels: { b: "2", a: "1" } },
    spec: {
      nodeName: "n",
      volumes: volumes as NonNullable<Pod["spec"]["volumes"]>,
      containers: [{ name: "c", image: "busybox", resources: { limits: { memory: "32Mi" } }, ...container }],
    },
  };
}

describe("volume manager", () => {
  let root: string;
  let mounter: ReturnType<typeof fakeMounter>;
  let vm: VolumeManager;
  beforeEach(async () => {
    root = await mkdtemp(join(tmpdir(), "volume-manager-"));
    mounter = fakeMounter();
    vm = createVolumeManager({ rootDir: root, objects: source, clock: createFakeClock(), mounter });
  });
  afterEach(async () => {
    await rm(root, { recursive: true, force: true });
  });
  const dir = (plugin: string, name: string) =>
    join(root, "pods", "uid-1", "volumes", `kubernetes.io~${plugin}`, name);

  it("lays volumes out as upstream and projects configMap items with modes", async () => {
    const vols = await vm.setupPod(
      pod([
        {
          name: "cfg",
          configMap: {
            name: "cm",
            defaultMode: 0o600,
            items: [
              { key: "a", path: "x/a" },
              { key: "bin", path: "bin", mode: 0o444 },
            ],
          },
        },
        { name: "sec", secret: { secretName: "s" } },
        {
          name: "dapi",
          downwardAPI: { items: [{ path: "labels", fieldRef: { fieldPath: "metadata.labels" } }] },
        },
        { name: "scratch", emptyDir: { medium: "Memory", sizeLimit: "64Mi" } },
        { name: "work", emptyDir: {} },
      ]),
      downward,
    );
    expect(vols.get("cfg")).toEqual({ hostPath: dir("configmap", "cfg"), readOnly: true });
    expect(vols.get("work")).toEqual({ hostPath: dir("empty-dir", "work"), readOnly: false });
    expect(await readFile(join(dir("configmap", "cfg"), "x/a"), "utf8")).toBe("A");
    expect((await stat(join(dir("configmap", "cfg"), "x/a"))).mode & 0o777).toBe(0o600);
    expect((await stat(join(dir("configmap", "cfg"), "bin"))).mode & 0o777).toBe(0o444);
    expect(await readFile(join(dir("secret", "sec"), "key"), "utf8")).toBe("K");
    expect(await readFile(join(dir("downward-api", "dapi"), "labels"), "utf8")).toBe('a="1"\nb="2"');
    // Secrets, downward API and memory emptyDirs on tmpfs; the memory one capped by the pod's limit.
    expect(mounter.mounted.get(dir("empty-dir", "scratch"))).toBe(32 * 2 ** 20);
    expect(mounter.mounted.has(dir("secret", "sec"))).toBe(true);
    expect(mounter.mounted.has(dir("downward-api", "dapi"))).toBe(true);
    expect(mounter.mounted.has(dir("configmap", "cfg"))).toBe(false);
    expect((await stat(dir("empty-dir", "work"))).mode & 0o777).toBe(0o777);
  });

  it("projects token, configMap, secret and downward API into one directory", async () => {
    await vm.setupPod(
      pod([
        {
          name: "api",
          projected: {
            sources: [
              { serviceAccountToken: { audience: "vault", expirationSeconds: 600, path: "token" } },
              { configMap: { name: "cm", items: [{ key: "a", path: "a" }] } },
              { secret: { name: "s" } },
              { downwardAPI: { items: [{ path: "name", fieldRef: { fieldPath: "metadata.name" } }] } },
            ],
          },
        },
      ]),
      downward,
    );
    const d = dir("projected", "api");
    expect(await readFile(join(d, "token"), "utf8")).toBe("token-for-default-vault");
    expect(await readFile(join(d, "a"), "utf8")).toBe("A");
    expect(await readFile(join(d, "key"), "utf8")).toBe("K");
    expect(await readFile(join(d, "name"), "utf8")).toBe("p");
  });

  it("tries every volume and names each failure; optional sources are empty", async () => {
    const err = await vm
      .setupPod(
        pod([
          { name: "ok", configMap: { name: "absent", optional: true } },
          { name: "cm", configMap: { name: "absent" } },
          { name: "key", configMap: { name: "cm", items: [{ key: "zz", path: "zz" }] } },
          { name: "sec", secret: { secretName: "s", items: [{ key: "zz", path: "zz" }] } },
          { name: "evil", configMap: { name: "cm", items: [{ key: "a", path: "../../etc/cron.d/x" }] } },
          { name: "pvc", persistentVolumeClaim: { claimName: "c" } },
          { name: "host", hostPath: { path: "/etc/../root" } },
        ]),
        downward,
      )
      .catch((e) => e);
    expect(err).toBeInstanceOf(VolumeSetupError);
    expect((err as VolumeSetupError).failures).toEqual([
      { volume: "cm", message: 'configmap "absent" not found' },
      { volume: "key", message: "configmap references non-existent config key: zz" },
      { volume: "sec", message: "references non-existent secret key: zz" },
      { volume: "evil", message: "invalid path: must not contain '..': ../../etc/cron.d/x" },
      {
        volume: "pvc",
        message:
          'unsupported volume type "persistentVolumeClaim": this kubelet supports emptyDir, hostPath, configMap, secret, downwardAPI, projected',
      },
      { volume: "host", message: `hostPath "/etc/../root" must not contain '..'` },
    ]);
    expect((err as Error).message).toContain(
      'MountVolume.SetUp failed for volume "cm" : configmap "absent" not found',
    );
    // Nothing of the hostile item was written anywhere.
    await expect(stat(join(root, "pods", "uid-1", "etc"))).rejects.toThrow();
    await expect(stat(dir("configmap", "ok"))).resolves.toBeDefined();
  });

  it("mounts with subPath inside the volume only, read-only for API data", async () => {
    const p = pod(
      [
        { name: "cfg", configMap: { name: "cm" } },
        { name: "work", emptyDir: {} },
      ],
      {
        volumeMounts: [
          { name: "cfg", mountPath: "/etc/a", subPath: "a" },
          { name: "work", mountPath: "/data", readOnly: true },
          { name: "work", mountPath: "/logs", subPathExpr: "$(POD)/logs" },
        ],
      },
    );
    const vols = await vm.setupPod(p, downward);
    const mounts = await vm.containerMounts(p, p.spec.containers[0]!, vols, new Map([["POD", "p"]]));
    const cfgReal = await readlink(join(dir("configmap", "cfg"), "..data"));
    expect(mounts).toEqual([
      {
        containerPath: "/etc/a",
        hostPath: join(dir("configmap", "cfg"), cfgReal, "a"),
        readonly: true,
        propagation: "None",
      },
      { containerPath: "/data", hostPath: dir("empty-dir", "work"), readonly: true, propagation: "None" },
      {
        containerPath: "/logs",
        hostPath: join(dir("empty-dir", "work"), "p/logs"),
        readonly: false,
        propagation: "None",
      },
    ]);
    const bad = async (m: Partial<NonNullable<Container["volumeMounts"]>[number]>) =>
      vm
        .containerMounts(
          p,
          { name: "c", volumeMounts: [{ name: "work", mountPath: "/x", ...m }] },
          vols,
          new Map(),
        )
        .catch((e) => e);
    expect(await bad({ subPath: "../../etc" })).toMatchObject({
      reason: "CreateContainerConfigError",
      message: `subPath "../../etc" must not contain '..'`,
    });
    expect(await bad({ subPath: "/etc" })).toMatchObject({
      message: `subPath "/etc" must be a relative path`,
    });
    expect(await bad({ name: "nope" })).toMatchObject({
      message: 'cannot find volume "nope" to mount into container "c"',
    });
    // A symlink planted in the volume must not lead the mount out of it.
    await symlink("/etc", join(dir("empty-dir", "work"), "escape"));
    expect(await bad({ subPath: "escape" })).toMatchObject({
      message: `subPath "escape" of volume "work" resolves outside the volume`,
    });
  });

  it("tears down: unmounts, then removes; never removes while something is still mounted", async () => {
    await vm.setupPod(pod([{ name: "sec", secret: { secretName: "s" } }]), downward);
    mounter.failUnmount = true;
    await expect(vm.teardownPod("uid-1")).rejects.toThrow(/target is busy/);
    expect(await readFile(join(dir("secret", "sec"), "key"), "utf8")).toBe("K");
    mounter.failUnmount = false;
    await vm.teardownPod("uid-1");
    expect(mounter.mounted.size).toBe(0);
    await expect(stat(join(root, "pods", "uid-1"))).rejects.toThrow();
  });

  it("removes directories of pods nobody knows", async () => {
    await mkdir(join(root, "pods", "old-uid", "volumes"), { recursive: true });
    await mkdir(join(root, "pods", "uid-1"), { recursive: true });
    await vm.cleanupOrphans(new Set(["uid-1"]));
    await expect(stat(join(root, "pods", "old-uid"))).rejects.toThrow();
    await expect(stat(join(root, "pods", "uid-1"))).resolves.toBeDefined();
  });
});

describe("hostPath type checks", () => {
  let d: string;
  beforeEach(async () => {
    d = await mkdtemp(join(tmpdir(), "hostpath-"));
  });
  afterEach(async () => {
    await rm(d, { recursive: true, force: true });
  });

  it("creates for *OrCreate and checks the kind otherwise", async () => {
    await checkHostPathType(join(d, "new/dir"), "DirectoryOrCreate");
    expect((await stat(join(d, "new/dir"))).isDirectory()).toBe(true);
    await checkHostPathType(join(d, "f"), "FileOrCreate");
    expect((await stat(join(d, "f"))).mode & 0o777).toBe(0o644);
    await expect(checkHostPathType(join(d, "no/parent"), "FileOrCreate")).rejects.toThrow(
      /cannot create file/,
    );
    await writeFile(join(d, "file"), "x");
    await checkHostPathType(join(d, "file"), "File");
    await checkHostPathType(d, "Directory");
    await checkHostPathType(join(d, "missing"), "");
    await checkHostPathType("/dev/null", "CharDevice");
    const cases: [string, string, string][] = [
      [join(d, "missing"), "Directory", "is not a directory"],
      [join(d, "file"), "DirectoryOrCreate", "is not a directory"],
      [d, "File", "is not a file"],
      [join(d, "file"), "Socket", "is not a socket file"],
      [join(d, "file"), "CharDevice", "is not a character device"],
      ["/dev/null", "BlockDevice", "is not a block device"],
      [d, "FileOrCreate", "is not a file"],
    ];
    for (const [path, type, text] of cases)
      await expect(checkHostPathType(path, type)).rejects.toThrow(
        `hostPath type check failed: ${path} ${text}`,
      );
    await expect(checkHostPathType(d, "Dir")).rejects.toThrow(/"Dir" is not one of DirectoryOrCreate/);
  });
});
