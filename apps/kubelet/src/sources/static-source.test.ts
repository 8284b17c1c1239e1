import { execFileSync } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeClock, silentLogger } from "@kubenode/kube";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { Pod } from "../api.js";
import { createStaticPodSource, defaultStaticPod, validateStaticPod } from "./static-source.js";

describe("static pod manifests", () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), "kubenode-static-"));
  });
  afterEach(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  it("rejects bad manifests with a message naming the field", () => {
    const base = { metadata: { name: "ok" }, spec: { containers: [{ name: "c", image: "x" }] } };
    expect(() => validateStaticPod([])).toThrow("not an object");
    expect(() => validateStaticPod({ ...base, kind: "Deployment" })).toThrow(
      'kind is "Deployment", want "Pod"',
    );
    expect(() => validateStaticPod({ ...base, metadata: {} })).toThrow("metadata.name is missing");
    expect(() => validateStaticPod({ ...base, metadata: { name: "Bad_Name" } })).toThrow(
      'metadata.name "Bad_Name" is not a valid DNS-1123 subdomain',
    );
    expect(() => validateStaticPod({ ...base, spec: { containers: [] } })).toThrow(
      "spec.containers: at least one container is required",
    );
    expect(() => validateStaticPod({ ...base, spec: { containers: [{ name: "c" }] } })).toThrow(
      "spec.containers[0].image is required",
    );
    expect(() =>
      validateStaticPod({ ...base, spec: { restartPolicy: "Sometimes", containers: base.spec.containers } }),
    ).toThrow('spec.restartPolicy "Sometimes" is not one of Always, OnFailure, Never');
  });

  it("applies the kubelet's static pod defaults with a UID that changes with content, path or node", () => {
    const raw = validateStaticPod({
      metadata: { name: "etcd" },
      spec: { containers: [{ name: "c", image: "x" }] },
    });
    const pod = defaultStaticPod(raw, "/etc/kubernetes/manifests/etcd.yaml", "Node-A", Date.UTC(2026, 0, 1));
    expect(pod.metadata).toMatchObject({ name: "etcd-node-a", namespace: "default" });
    expect(pod.metadata.annotations).toEqual({
      "kubernetes.io/config.hash": pod.metadata.uid,
      "kubernetes.io/config.source": "file",
      "kubernetes.io/config.seen": "2026-01-01T00:00:00.000000000Z",
    });
    expect(pod.spec).toMatchObject({
      nodeName: "Node-A",
      restartPolicy: "Always",
      tolerations: [{ operator: "Exists", effect: "NoExecute" }],
    });
    const same = defaultStaticPod(raw, "/etc/kubernetes/manifests/etcd.yaml", "Node-A", 0);
    expect(same.metadata.uid).toBe(pod.metadata.uid);
    expect(defaultStaticPod(raw, "/other.yaml", "Node-A", 0).metadata.uid).not.toBe(pod.metadata.uid);
    expect(defaultStaticPod(raw, "/etc/kubernetes/manifests/etcd.yaml", "node-b", 0).metadata.uid).not.toBe(
      pod.metadata.uid,
    );
  });

  it("reads YAML and JSON files of any extension, skips hidden and bad ones, and notices changes", async () => {
    const manifest = (name: string) =>
      JSON.stringify({ metadata: { name }, spec: { containers: [{ name: "c", image: "x:1" }] } });
    await writeFile(
      join(dir, "a.yaml"),
      "metadata: {name: a}\nspec:\n  containers: [{name: c, image: 'x:1'}]\n",
    );
    await writeFile(join(dir, "b.conf"), manifest("b"));
    await writeFile(join(dir, ".c.yaml"), manifest("c"));
    await writeFile(join(dir, "d.yaml"), "{ not yaml");
    const seen = new Map<string, Pod>();
    const source = createStaticPodSource({
      path: dir,
      nodeName: "n",
      clock: createFakeClock(),
      logger: silentLogger,
      handler: { upsert: (p) => seen.set(p.metadata.uid!, p), remove: (uid) => seen.delete(uid) },
    });
    await source.start();
    expect([...seen.values()].map((p) => p.metadata.name).sort()).toEqual(["a-n", "b-n"]);
    expect(source.errors.map((e) => e.file)).toEqual([join(dir, "d.yaml")]);
    expect(source.errors[0]!.message).toMatch(/^not valid YAML or JSON/);
    await writeFile(join(dir, "b.conf"), manifest("b2"));
    await rm(join(dir, "a.yaml"));
    await source.rescan();
    expect([...seen.values()].map((p) => p.metadata.name).sort()).toEqual(["b2-n"]);
    await source.stop();
  });

  it("reports directories, symlink loops, dangling links, FIFOs and names too long once suffixed, and runs the good manifest", async () => {
    const good = JSON.stringify({
      metadata: { name: "good" },
      spec: { containers: [{ name: "c", image: "x:1" }] },
    });
    await writeFile(join(dir, "good.yaml"), good);
    await symlink(join(dir, "good.yaml"), join(dir, "link.yaml"));
    await mkdir(join(dir, "subdir"));
    await symlink(join(dir, "loop"), join(dir, "loop"));
    await symlink(join(dir, "missing.yaml"), join(dir, "dangling.yaml"));
    // A FIFO would block a read forever: it must never be opened.
    execFileSync("mkfifo", [join(dir, "fifo.yaml")]);
    await writeFile(
      join(dir, "long.yaml"),
      JSON.stringify({
        metadata: { name: "a".repeat(252) },
        spec: { containers: [{ name: "c", image: "x:1" }] },
      }),
    );
    const seen = new Map<string, Pod>();
    const source = createStaticPodSource({
      path: dir,
      nodeName: "n",
      clock: createFakeClock(),
      logger: silentLogger,
      handler: { upsert: (p) => seen.set(p.metadata.uid!, p), remove: (uid) => seen.delete(uid) },
    });
    await source.start();
    // The link to good.yaml is the same content at another path: another pod of the same name.
    expect([...seen.values()].map((p) => p.metadata.name)).toEqual(["good-n"]);
    const errors = Object.fromEntries(source.errors.map((e) => [e.file.slice(dir.length + 1), e.message]));
    expect(errors).toEqual({
      "dangling.yaml": "cannot stat it: ENOENT",
      "fifo.yaml": "is not a regular file (a FIFO, socket or device): not read",
      "link.yaml": `duplicate pod name default/good-n (also in ${join(dir, "good.yaml")}): ignored`,
      "long.yaml": expect.stringMatching(/^metadata\.name "a{252}-n" is longer than 253 characters/),
      loop: "cannot stat it: ELOOP (symlink loop)",
      subdir: "is a directory: manifest directories are not recursed into",
    });
    await source.stop();
  });

  it("treats a missing path as no pods", async () => {
    const seen: Pod[] = [];
    const source = createStaticPodSource({
      path: join(dir, "missing"),
      nodeName: "n",
      clock: createFakeClock(),
      logger: silentLogger,
      handler: { upsert: (p) => seen.push(p), remove: () => {} },
    });
    await source.start();
    expect(seen).toEqual([]);
    expect(source.synced()).toBe(true);
    await source.stop();
  });
});
