// End to end: volumes and env sources of pods run by createKubelet on a private containerd, checked
// from inside the containers (CRI ExecSync) and on the node's disk.
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { createFakeClock, type FakeClock } from "@kubenode/kube";
import { waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ContainerStatus, Pod } from "../src/api.js";
import { type Rig, realComponents, startRig, stepUntil } from "./rig.js";

const SYNC_FREQUENCY_MS = 3000;

const status = (pod: Pod, name: string): ContainerStatus | undefined =>
  pod.status?.containerStatuses?.find((c) => c.name === name);
const running =
  (name = "app") =>
  (p: Pod) =>
    status(p, name)?.state.running !== undefined;
const sleeper = ["sh", "-c", "trap 'exit 0' TERM; while true; do sleep 1; done"];

describe.runIf(realComponents)("kubelet volumes and env (containerd + API simulator)", () => {
  let rig: Rig;
  let image: string;
  let rootDir: string;

  beforeAll(async () => {
    rig = await startRig();
    image = rig.containerd.busyboxImage;
    rootDir = join(rig.tmp, "root");
    await rig.startKubelet({ syncFrequencyMs: SYNC_FREQUENCY_MS });
  });
  afterAll(async () => {
    await rig?.stop();
  });

  async function exec(pod: Pod, container: string, script: string): Promise<string> {
    const id = status(pod, container)?.containerID?.replace(/^containerd:\/\//, "");
    if (!id) throw new Error(`container ${container} of ${pod.metadata.name} has no ID`);
    const r = await rig.cri.execSync({ containerId: id, cmd: ["sh", "-c", script], timeout: 20n });
    if (r.exitCode !== 0) throw new Error(`exec ${script}: exit ${r.exitCode}: ${r.stderr.toString()}`);
    return r.stdout.toString();
  }
  const create = (
    kind: "configmaps" | "secrets" | "services",
    body: Record<string, unknown>,
    ns = "default",
  ) => rig.admin.request({ method: "POST", path: `/api/v1/namespaces/${ns}/${kind}`, body });
  async function deleteAndWaitGone(name: string): Promise<void> {
    await rig.admin.request({ method: "DELETE", path: `/api/v1/namespaces/default/pods/${name}` });
    await waitFor(`pod ${name} gone`, async () => ((await rig.getPod(name)) ? undefined : true), {
      timeoutMs: 90_000,
    });
  }

  it("shows a configMap update in a running container through the ..data swap", async () => {
    await create("configmaps", { metadata: { name: "app-config" }, data: { greeting: "hello" } });
    await rig.createPod({
      metadata: { name: "cm-reader" },
      spec: {
        containers: [
          { name: "app", image, command: sleeper, volumeMounts: [{ name: "cfg", mountPath: "/etc/config" }] },
        ],
        volumes: [{ name: "cfg", configMap: { name: "app-config" } }],
      },
    });
    const pod = await rig.waitPod("cm-reader", "running", running());
    expect(await exec(pod, "app", "cat /etc/config/greeting")).toBe("hello");
    const before = (await exec(pod, "app", "readlink /etc/config/..data")).trim();
    expect(before).toMatch(/^\.\.\d{4}_\d\d_\d\d_\d\d_\d\d_\d\d\.[0-9a-f]+$/);
    expect((await exec(pod, "app", "readlink /etc/config/greeting")).trim()).toBe("..data/greeting");
    // The volume is read-only in the container, as upstream mounts API-data volumes.
    await expect(exec(pod, "app", "echo x > /etc/config/new")).rejects.toThrow(/Read-only file system/);

    const t0 = Date.now();
    await rig.admin.request({
      method: "PATCH",
      path: "/api/v1/namespaces/default/configmaps/app-config",
      contentType: "application/merge-patch+json",
      body: { data: { greeting: "bye" } },
    });
    await waitFor(
      "new content visible in the container",
      async () => ((await exec(pod, "app", "cat /etc/config/greeting")) === "bye" ? true : undefined),
      { timeoutMs: 60_000, intervalMs: 200 },
    );
    const seenAfterMs = Date.now() - t0;
    const after = (await exec(pod, "app", "readlink /etc/config/..data")).trim();
    expect(after).not.toBe(before);
    console.log(
      `configMap update visible in the container after ${seenAfterMs} ms (sync period ${SYNC_FREQUENCY_MS} ms)`,
    );
    // The same container kept running: the update needed no restart.
    const now = await rig.getPod("cm-reader");
    expect(status(now!, "app")?.containerID).toBe(status(pod, "app")?.containerID);
    await deleteAndWaitGone("cm-reader");
  });

  it("writes secret files with the requested modes on tmpfs", async () => {
    await create("secrets", {
      metadata: { name: "db" },
      data: {
        user: Buffer.from("admin").toString("base64"),
        password: Buffer.from("s3cret").toString("base64"),
      },
    });
    await rig.createPod({
      metadata: { name: "secret-reader" },
      spec: {
        containers: [
          {
            name: "app",
            image,
            command: sleeper,
            volumeMounts: [{ name: "creds", mountPath: "/etc/creds" }],
          },
        ],
        volumes: [
          {
            name: "creds",
            secret: {
              secretName: "db",
              defaultMode: 0o440,
              items: [
                { key: "user", path: "user" },
                { key: "password", path: "db/password", mode: 0o400 },
              ],
            },
          },
        ],
      },
    });
    const pod = await rig.waitPod("secret-reader", "running", running());
    expect(await exec(pod, "app", "cat /etc/creds/db/password")).toBe("s3cret");
    expect(
      (await exec(pod, "app", "stat -L -c %a /etc/creds/user /etc/creds/db/password")).split("\n"),
    ).toEqual(["440", "400", ""]);
    const mounts = await exec(pod, "app", "cat /proc/mounts");
    expect(mounts).toMatch(/^tmpfs \/etc\/creds tmpfs ro[, ]/m);
    await deleteAndWaitGone("secret-reader");
  });

  it("shares an emptyDir between an init container and the app; Memory medium is a sized tmpfs", async () => {
    await rig.createPod({
      metadata: { name: "shared" },
      spec: {
        initContainers: [
          {
            name: "init",
            image,
            command: ["sh", "-c", "echo from-init > /work/init.txt"],
            volumeMounts: [{ name: "work", mountPath: "/work" }],
          },
        ],
        containers: [
          {
            name: "app",
            image,
            command: sleeper,
            volumeMounts: [
              { name: "work", mountPath: "/work" },
              { name: "scratch", mountPath: "/scratch" },
              { name: "work", mountPath: "/sub", subPath: "nested/dir" },
            ],
          },
        ],
        volumes: [
          { name: "work", emptyDir: {} },
          { name: "scratch", emptyDir: { medium: "Memory", sizeLimit: "16Mi" } },
        ],
      },
    });
    const pod = await rig.waitPod("shared", "running", running());
    expect(await exec(pod, "app", "cat /work/init.txt")).toBe("from-init\n");
    const mounts = await exec(pod, "app", "cat /proc/mounts");
    expect(mounts).toMatch(/^tmpfs \/scratch tmpfs rw.*size=16384k/m);
    // subPath: a directory created inside the volume, visible from the whole-volume mount.
    await exec(pod, "app", "echo via-subpath > /sub/f");
    expect(await exec(pod, "app", "cat /work/nested/dir/f")).toBe("via-subpath\n");

    const podDir = join(rootDir, "pods", pod.metadata.uid!);
    expect((await stat(join(podDir, "volumes", "kubernetes.io~empty-dir", "work"))).isDirectory()).toBe(true);
    await deleteAndWaitGone("shared");
    await waitFor("pod directory removed", async () => ((await exists(podDir)) ? undefined : true), {
      timeoutMs: 30_000,
    });
    const mountinfo = await readFile("/proc/self/mountinfo", "utf8");
    expect(mountinfo).not.toContain(pod.metadata.uid!);
  });

  it("projects a service account token that the API server's TokenReview accepts", async () => {
    await rig.createPod({
      metadata: { name: "token-reader", labels: { tier: "backend" } },
      spec: {
        containers: [
          { name: "app", image, command: sleeper, volumeMounts: [{ name: "sa", mountPath: "/var/run/sa" }] },
        ],
        volumes: [
          {
            name: "sa",
            projected: {
              defaultMode: 0o444,
              sources: [
                {
                  serviceAccountToken: { audience: "kubenode-test", expirationSeconds: 3600, path: "token" },
                },
                { downwardAPI: { items: [{ path: "labels", fieldRef: { fieldPath: "metadata.labels" } }] } },
                { configMap: { name: "app-config", items: [{ key: "greeting", path: "cfg/greeting" }] } },
              ],
            },
          },
        ],
      },
    });
    const pod = await rig.waitPod("token-reader", "running", running());
    const token = await exec(pod, "app", "cat /var/run/sa/token");
    expect(token.split(".")).toHaveLength(3);
    const claims = JSON.parse(Buffer.from(token.split(".")[1]!, "base64url").toString());
    expect(claims.aud).toEqual(["kubenode-test"]);
    expect(claims.exp - claims.iat).toBe(3600);
    expect(claims["kubernetes.io"].pod).toEqual({ name: "token-reader", uid: pod.metadata.uid });
    const review = await rig.admin.request<{
      status: { authenticated?: boolean; user?: { username?: string; extra?: Record<string, string[]> } };
    }>({
      method: "POST",
      path: "/apis/authentication.k8s.io/v1/tokenreviews",
      body: {
        apiVersion: "authentication.k8s.io/v1",
        kind: "TokenReview",
        spec: { token, audiences: ["kubenode-test"] },
      },
    });
    expect(review.status.authenticated).toBe(true);
    expect(review.status.user?.username).toBe("system:serviceaccount:default:default");
    expect(review.status.user?.extra?.["authentication.kubernetes.io/pod-name"]).toEqual(["token-reader"]);
    expect(await exec(pod, "app", "cat /var/run/sa/labels")).toBe('tier="backend"');
    expect(await exec(pod, "app", "cat /var/run/sa/cfg/greeting")).toMatch(/^(hello|bye)$/);
    expect((await exec(pod, "app", "stat -L -c %a /var/run/sa/token")).trim()).toBe("444");
    await deleteAndWaitGone("token-reader");
  });

  it("mounts the kubelet-managed /etc/hosts, unless the container mounts its own", async () => {
    await create("configmaps", { metadata: { name: "own-hosts" }, data: { hosts: "10.9.9.9\tmine\n" } });
    await rig.createPod({
      metadata: { name: "hosts" },
      spec: {
        hostname: "web-0",
        subdomain: "sub",
        hostAliases: [{ ip: "10.1.2.3", hostnames: ["foo.remote", "bar.remote"] }],
        containers: [
          { name: "app", image, command: sleeper },
          {
            name: "own",
            image,
            command: sleeper,
            volumeMounts: [{ name: "h", mountPath: "/etc/hosts", subPath: "hosts" }],
          },
        ],
        volumes: [{ name: "h", configMap: { name: "own-hosts" } }],
      },
    });
    const pod = await rig.waitPod("hosts", "both running", (p) => running("app")(p) && running("own")(p));
    const ip = pod.status?.podIP;
    expect(ip).toMatch(/^\d+\.\d+\.\d+\.\d+$/);
    const hosts = await exec(pod, "app", "cat /etc/hosts");
    expect(hosts.split("\n")[0]).toBe("# Kubernetes-managed hosts file.");
    expect(hosts).toContain("127.0.0.1\tlocalhost\n");
    expect(hosts).toContain(`\n${ip}\tweb-0.sub.default.svc.cluster.local\tweb-0\n`);
    expect(hosts.endsWith("\n# Entries added by HostAliases.\n10.1.2.3\tfoo.remote\tbar.remote\n")).toBe(
      true,
    );
    // The names resolve inside the container through it.
    expect((await exec(pod, "app", "hostname")).trim()).toBe("web-0");
    expect(await exec(pod, "app", "ping -c1 -W1 bar.remote 2>&1 | head -1; true")).toMatch(
      /bar\.remote \(10\.1\.2\.3\)/,
    );
    expect(await exec(pod, "own", "cat /etc/hosts")).toBe("10.9.9.9\tmine\n");
    const file = join(rootDir, "pods", pod.metadata.uid as string, "etc-hosts");
    expect(await readFile(file, "utf8")).toBe(hosts);
    expect((await stat(file)).mode & 0o777).toBe(0o644);
    await deleteAndWaitGone("hosts");
  });

  it("hands volumes to the pod's fsGroup: a non-root container writes the emptyDir, new files inherit the group", async () => {
    await create("configmaps", { metadata: { name: "fsgroup-cfg" }, data: { key: "v" } });
    await rig.createPod({
      metadata: { name: "fsgroup" },
      spec: {
        securityContext: { runAsUser: 1000, runAsGroup: 3000, fsGroup: 2000 },
        containers: [
          {
            name: "app",
            image,
            command: sleeper,
            volumeMounts: [
              { name: "scratch", mountPath: "/scratch" },
              { name: "cfg", mountPath: "/cfg" },
            ],
          },
        ],
        volumes: [
          { name: "scratch", emptyDir: {} },
          { name: "cfg", configMap: { name: "fsgroup-cfg", defaultMode: 0o600 } },
        ],
      },
    });
    const pod = await rig.waitPod("fsgroup", "running", running());
    expect((await exec(pod, "app", "id -u; id -G")).split(/\s+/).filter(Boolean)).toEqual([
      "1000",
      "3000",
      "2000",
    ]);
    // emptyDir: drwxrwsrwx of group 2000, as on a real node; a file made by uid 1000 gets group 2000.
    expect((await exec(pod, "app", "stat -c '%g %a' /scratch")).trim()).toBe("2000 2777");
    expect((await exec(pod, "app", "echo hi > /scratch/x && stat -c '%u %g' /scratch/x")).trim()).toBe(
      "1000 2000",
    );
    // configMap files: group 2000 with group read added to their 0600 mode, readable by the pod.
    expect((await exec(pod, "app", "stat -Lc '%g %a' /cfg/key")).trim()).toBe("2000 640");
    expect(await exec(pod, "app", "cat /cfg/key")).toBe("v");
    await deleteAndWaitGone("fsgroup");
  });

  it("puts env from every source into the container", async () => {
    await create("configmaps", { metadata: { name: "env-cm" }, data: { LEVEL: "debug", MODE: "fast" } });
    // "1st" is a valid configMap key but not a valid env var name: skipped with an event.
    await create("configmaps", { metadata: { name: "env-num" }, data: { "1st": "x", SECOND: "y" } });
    await create("secrets", {
      metadata: { name: "env-secret" },
      data: { TOKEN: Buffer.from("t0k").toString("base64") },
    });
    await create("services", {
      metadata: { name: "my-svc" },
      spec: { ports: [{ name: "http", port: 8080, protocol: "TCP" }], selector: { app: "x" } },
    });
    const svc = await rig.admin.request<{ spec: { clusterIP: string } }>({
      method: "GET",
      path: "/api/v1/namespaces/default/services/my-svc",
    });
    await rig.createPod({
      metadata: { name: "env-pod", labels: { app: "env" }, annotations: { owner: "team-a" } },
      spec: {
        containers: [
          {
            name: "app",
            image,
            // single quotes: the shell must not see the literal $(LEVEL) left by $$(LEVEL)
            command: ["sh", "-c", "echo '$(GREETING) $(POD_NAME)' > /tmp/cmd; exec sleep 3600"],
            resources: { limits: { memory: "64Mi", cpu: "500m" } },
            envFrom: [
              { configMapRef: { name: "env-cm" }, prefix: "CM_" },
              { configMapRef: { name: "env-num" } },
              { secretRef: { name: "env-secret" } },
            ],
            env: [
              { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
              { name: "POD_NS", valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } } },
              { name: "POD_UID", valueFrom: { fieldRef: { fieldPath: "metadata.uid" } } },
              { name: "APP", valueFrom: { fieldRef: { fieldPath: "metadata.labels['app']" } } },
              { name: "OWNER", valueFrom: { fieldRef: { fieldPath: "metadata.annotations['owner']" } } },
              { name: "NODE", valueFrom: { fieldRef: { fieldPath: "spec.nodeName" } } },
              { name: "POD_IP", valueFrom: { fieldRef: { fieldPath: "status.podIP" } } },
              { name: "HOST_IP", valueFrom: { fieldRef: { fieldPath: "status.hostIP" } } },
              {
                name: "MEM_MI",
                valueFrom: { resourceFieldRef: { resource: "limits.memory", divisor: "1Mi" } },
              },
              { name: "CPU_M", valueFrom: { resourceFieldRef: { resource: "limits.cpu", divisor: "1m" } } },
              { name: "LEVEL", valueFrom: { configMapKeyRef: { name: "env-cm", key: "LEVEL" } } },
              { name: "PASS", valueFrom: { secretKeyRef: { name: "env-secret", key: "TOKEN" } } },
              {
                name: "MISSING_OK",
                valueFrom: { configMapKeyRef: { name: "nope", key: "x", optional: true } },
              },
              { name: "GREETING", value: "hi-$(LEVEL)-$(MY_SVC_SERVICE_PORT)-$$(LEVEL)" },
            ],
          },
        ],
      },
    });
    const pod = await rig.waitPod("env-pod", "running", running());
    const env = Object.fromEntries(
      (await exec(pod, "app", "env"))
        .split("\n")
        .filter((l) => l.includes("="))
        .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
    );
    expect(env).toMatchObject({
      POD_NAME: "env-pod",
      POD_NS: "default",
      POD_UID: pod.metadata.uid,
      APP: "env",
      OWNER: "team-a",
      NODE: "node-a",
      POD_IP: pod.status?.podIP,
      HOST_IP: "127.0.0.1",
      MEM_MI: "64",
      CPU_M: "500",
      LEVEL: "debug",
      PASS: "t0k",
      CM_LEVEL: "debug",
      CM_MODE: "fast",
      TOKEN: "t0k",
      SECOND: "y",
      GREETING: "hi-debug-8080-$(LEVEL)",
      MY_SVC_SERVICE_HOST: svc.spec.clusterIP,
      MY_SVC_SERVICE_PORT: "8080",
      MY_SVC_SERVICE_PORT_HTTP: "8080",
      MY_SVC_PORT: `tcp://${svc.spec.clusterIP}:8080`,
      MY_SVC_PORT_8080_TCP_ADDR: svc.spec.clusterIP,
    });
    expect(env.MISSING_OK).toBeUndefined();
    expect(env["1st"]).toBeUndefined();
    expect(await exec(pod, "app", "cat /tmp/cmd")).toBe("hi-debug-8080-$(LEVEL) env-pod\n");
    const events = await rig.admin.request<{
      items: { reason: string; message: string; involvedObject: { name: string } }[];
    }>({
      method: "GET",
      path: "/api/v1/namespaces/default/events",
    });
    expect(
      events.items.find(
        (e) => e.involvedObject.name === "env-pod" && e.reason === "InvalidEnvironmentVariableNames",
      )?.message,
    ).toBe(
      "Keys [1st] from the EnvFrom configMap default/env-num were skipped since they are considered invalid environment variable names.",
    );
    await deleteAndWaitGone("env-pod");
  });

  it("reports a missing configMap as CreateContainerConfigError, then runs once it exists", async () => {
    await rig.createPod({
      metadata: { name: "late-env" },
      spec: {
        containers: [
          {
            name: "app",
            image,
            command: sleeper,
            env: [{ name: "X", valueFrom: { configMapKeyRef: { name: "late", key: "x" } } }],
          },
        ],
      },
    });
    const waiting = await rig.waitPod(
      "late-env",
      "CreateContainerConfigError",
      (p) => status(p, "app")?.state.waiting?.reason === "CreateContainerConfigError",
    );
    expect(status(waiting, "app")?.state.waiting?.message).toBe('configmap "late" not found');
    await create("configmaps", { metadata: { name: "late" }, data: { x: "arrived" } });
    const pod = await rig.waitPod("late-env", "running", running());
    expect(await exec(pod, "app", "echo $X")).toBe("arrived\n");
    await deleteAndWaitGone("late-env");
  });

  it("holds back a pod whose volume cannot be set up, with FailedMount, and runs the others", async () => {
    await rig.createPod({
      metadata: { name: "bad-volumes" },
      spec: {
        containers: [
          { name: "app", image, command: sleeper, volumeMounts: [{ name: "data", mountPath: "/data" }] },
        ],
        volumes: [
          { name: "data", persistentVolumeClaim: { claimName: "data" } },
          { name: "host", hostPath: { path: "/nonexistent-kubenode-dir", type: "Directory" } },
          { name: "cm", configMap: { name: "absent" } },
        ],
      },
    });
    await rig.createPod({
      metadata: { name: "good-neighbour" },
      spec: { containers: [{ name: "app", image, command: sleeper }] },
    });
    await rig.waitPod("good-neighbour", "running", running());
    const bad = await rig.waitPod("bad-volumes", "waiting with a message", (p) =>
      Boolean(status(p, "app")?.state.waiting?.message),
    );
    const w = status(bad, "app")!.state.waiting!;
    expect(w.reason).toBe("ContainerCreating");
    expect(w.message).toContain(
      'MountVolume.SetUp failed for volume "data" : unsupported volume type "persistentVolumeClaim"',
    );
    expect(w.message).toContain(
      'MountVolume.SetUp failed for volume "host" : hostPath type check failed: /nonexistent-kubenode-dir is not a directory',
    );
    expect(w.message).toContain('MountVolume.SetUp failed for volume "cm" : configmap "absent" not found');
    const events = await waitFor("FailedMount events", async () => {
      const list = await rig.admin.request<{
        items: { reason: string; message: string; involvedObject: { name: string } }[];
      }>({
        method: "GET",
        path: "/api/v1/namespaces/default/events",
      });
      const mine = list.items.filter(
        (e) => e.involvedObject.name === "bad-volumes" && e.reason === "FailedMount",
      );
      return mine.length >= 3 ? mine : undefined;
    });
    expect(events.map((e) => e.message).sort()[0]).toBe(
      'MountVolume.SetUp failed for volume "cm" : configmap "absent" not found',
    );
    await deleteAndWaitGone("bad-volumes");
    await deleteAndWaitGone("good-neighbour");
  });
});

describe.runIf(realComponents)("projected token refresh (stepped clock)", () => {
  let rig: Rig;
  let clock: FakeClock;
  beforeAll(async () => {
    rig = await startRig();
    // Starts at the real time: the API server stamps the token's expiry on its own (real) clock.
    clock = createFakeClock(Date.now());
    await rig.startKubelet({ clock });
  });
  afterAll(async () => {
    await rig?.stop();
  });

  it("requests a new token after 80% of its lifetime, before it expires", async () => {
    await rig.createPod({
      metadata: { name: "token-refresh" },
      spec: {
        containers: [
          {
            name: "app",
            image: rig.containerd.busyboxImage,
            command: sleeper,
            volumeMounts: [{ name: "sa", mountPath: "/var/run/sa" }],
          },
        ],
        volumes: [
          {
            name: "sa",
            projected: { sources: [{ serviceAccountToken: { expirationSeconds: 600, path: "token" } }] },
          },
        ],
      },
    });
    const pod = await stepUntil(clock, "token-refresh running", async () => {
      const p = await rig.getPod("token-refresh");
      return p && running()(p) ? p : undefined;
    });
    const id = status(pod, "app")!.containerID!.replace(/^containerd:\/\//, "");
    const read = async () =>
      (
        await rig.cri.execSync({ containerId: id, cmd: ["cat", "/var/run/sa/token"], timeout: 20n })
      ).stdout.toString();
    const first = await read();
    const t0 = clock.now();
    // One pod sync per minute (syncFrequency); the refresh is due at 480 s (minus up to 10 s of jitter).
    const second = await stepUntil(
      clock,
      "a new token in the volume",
      async () => {
        const t = await read();
        return t !== first ? t : undefined;
      },
      { stepMs: 60_000, maxSteps: 15, settleMs: 3000 },
    );
    const refreshedAfterMs = clock.now() - t0;
    console.log(`600 s token replaced ${refreshedAfterMs / 1000} s (kubelet clock) after it was first read`);
    expect(refreshedAfterMs).toBeGreaterThanOrEqual(420_000);
    expect(refreshedAfterMs).toBeLessThan(600_000);
    const review = await rig.admin.request<{ status: { authenticated?: boolean } }>({
      method: "POST",
      path: "/apis/authentication.k8s.io/v1/tokenreviews",
      body: { apiVersion: "authentication.k8s.io/v1", kind: "TokenReview", spec: { token: second } },
    });
    expect(review.status.authenticated).toBe(true);

    await rig.admin.request({ method: "DELETE", path: "/api/v1/namespaces/default/pods/token-refresh" });
    await stepUntil(clock, "token-refresh gone", async () =>
      (await rig.getPod("token-refresh")) ? undefined : true,
    );
    const podDir = join(rig.tmp, "root", "pods", pod.metadata.uid!);
    await waitFor("pod directory removed", async () => ((await exists(podDir)) ? undefined : true), {
      timeoutMs: 30_000,
    });
  });
});

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}
