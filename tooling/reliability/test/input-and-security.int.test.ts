// Bad input and security: hostile or malformed objects get a clear error and affect nothing else;
// garbage on the agents' ports is answered or dropped without harm; the kubelet API and the API
// server refuse who they should; files the kubelet writes are not world-writable; kube-proxy's
// servers bind where upstream binds them.

import { existsSync } from "node:fs";
import { lstat, readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { canUseRealComponents, waitFor } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  assertAlive,
  createPod,
  criOf,
  getPod,
  type Pod,
  podBody,
  running,
  startWebPod,
  waitPod,
} from "./checks.js";
import { NODE, type NodeRig, startNodeRig } from "./node-rig.js";
import { row } from "./table.js";

const realComponents = await canUseRealComponents();

// Runs inside the node's network namespace (where the agents listen): one network exchange,
// printed as JSON. Passed to `node -e` as an argument, never through a shell.
const PROBE = `
import net from "node:net";
import tls from "node:tls";
const [kind, port, arg] = process.argv.slice(1);
// Only the start of a response matters; a short write to the pipe is flushed before exit.
const out = (v) => { process.stdout.write(JSON.stringify({ ...v, data: v.data.slice(0, 2048) })); process.exit(0); };
const open = () => kind.startsWith("tls")
  ? tls.connect({ host: "127.0.0.1", port: Number(port), rejectUnauthorized: false })
  : net.connect(Number(port), "127.0.0.1");
const exchange = (payload) => {
  const s = open();
  let data = "";
  s.on("data", (d) => { data += d; });
  s.on("error", (e) => out({ error: e.code ?? e.message, data }));
  s.on("close", () => out({ data }));
  s.on(kind.startsWith("tls") ? "secureConnect" : "connect", () => s.write(payload));
  setTimeout(() => { s.destroy(); out({ data, open: true }); }, 2000);
};
const mode = kind.replace(/^tls-/, "");
// {{BIG}} stands for a 100 KiB value (too long for a command-line argument).
const payload = Buffer.from(Buffer.from(arg, "base64").toString("latin1").replace("{{BIG}}", "a".repeat(100 * 1024)), "latin1");
if (mode === "raw") exchange(payload);
if (mode === "slowloris") {
  // Trickles one header byte every 200 ms on one connection while a normal request is made on another.
  const slow = open();
  slow.on("error", () => {});
  let i = 0;
  const head = "GET / HTTP/1.1\\r\\nHost: x\\r\\nX-Slow: ";
  const t = setInterval(() => { slow.write(i < head.length ? head[i] : "a"); i++; }, 200);
  setTimeout(() => {
    const s = open();
    let data = "";
    s.on("data", (d) => { data += d; });
    s.on(kind.startsWith("tls") ? "secureConnect" : "connect", () => s.write(payload));
    s.on("error", (e) => { clearInterval(t); out({ error: e.code, data }); });
    setTimeout(() => { clearInterval(t); slow.destroy(); s.destroy(); out({ data }); }, 2000);
  }, 1500);
}
`;

interface ProbeResult {
  data: string;
  error?: string;
  open?: boolean;
}

describe.runIf(realComponents)("bad input and security (real kubelet + kube-proxy + containerd)", () => {
  let rig: NodeRig;
  let clusterIP: string;
  let image: string;

  beforeAll(async () => {
    rig = await startNodeRig();
    image = rig.containerd.busyboxImage;
    ({ clusterIP } = await startWebPod(rig));
  });
  afterAll(async () => {
    await rig?.stop();
  });

  async function probe(kind: string, port: number, payload: string): Promise<ProbeResult> {
    const { stdout } = await rig.node.exec(
      [
        process.execPath,
        "--input-type=module",
        "-e",
        PROBE,
        kind,
        String(port),
        Buffer.from(payload).toString("base64"),
      ],
      { timeoutMs: 20_000 },
    );
    return JSON.parse(stdout) as ProbeResult;
  }

  /** The node still works: the agents run, Service traffic flows, a new pod starts. */
  async function nothingElseAffected(name: string) {
    assertAlive(rig);
    expect((await rig.httpGet(`http://${clusterIP}/`)).trim()).toBe("web");
    await createPod(rig, podBody(name, image, ["sleep", "3600"]));
    await waitPod(rig, name, "Running next to the bad input", running);
  }

  it("malformed pod specs", async (ctx) => {
    row(ctx, {
      fault: "malformed pod specs",
      checked:
        "invalid image ref, negative grace period, probe port 70000, a volume type the kubelet does not support: each a clear error; other pods unaffected",
    });
    const bad: {
      name: string;
      pod: ReturnType<typeof podBody>;
      clear: (err: string, pod?: Pod) => boolean;
    }[] = [];
    const add = (
      name: string,
      mutate: (p: ReturnType<typeof podBody>) => void,
      clear: (typeof bad)[0]["clear"],
    ) => {
      const pod = podBody(name, image, ["sleep", "3600"]);
      mutate(pod);
      bad.push({ name, pod, clear });
    };
    const containers = (p: ReturnType<typeof podBody>) =>
      p.spec.containers as unknown as Record<string, unknown>[];
    add(
      "bad-image",
      (p) => {
        containers(p)[0]!.image = "Not/A:Valid::Ref";
      },
      (err, pod) =>
        /image/i.test(err) ||
        (pod?.status?.containerStatuses?.[0]?.state !== undefined &&
          JSON.stringify(pod.status.containerStatuses[0].state).includes("InvalidImageName")),
    );
    add(
      "bad-grace",
      (p) => {
        p.spec.terminationGracePeriodSeconds = -5;
      },
      (err) => /terminationGracePeriodSeconds/.test(err),
    );
    add(
      "bad-probe-port",
      (p) => {
        containers(p)[0]!.livenessProbe = { httpGet: { path: "/", port: 70000 } };
      },
      (err) =>
        /spec\.containers\[0\]\.livenessProbe\.httpGet\.port: Invalid value: 70000: must be between 1 and 65535, inclusive/.test(
          err,
        ),
    );
    add(
      "unsupported-volume",
      (p) => {
        (p.spec as Record<string, unknown>).volumes = [
          { name: "data", persistentVolumeClaim: { claimName: "claim" } },
        ];
      },
      (err, pod) =>
        /volume/i.test(err) ||
        JSON.stringify(pod?.status ?? {}).includes('unsupported volume type \\"persistentVolumeClaim\\"'),
    );
    const outcomes: string[] = [];
    for (const b of bad) {
      let err = "";
      try {
        await createPod(rig, b.pod);
      } catch (e) {
        err = (e as Error).message;
      }
      if (err) {
        outcomes.push(`${b.name}: rejected (${err.slice(0, 120)})`);
        console.log(outcomes.at(-1));
        expect(b.clear(err), `${b.name}: ${err}`).toBe(true);
        continue;
      }
      // Accepted by the API server: the kubelet must say what is wrong in the pod's status.
      const pod = await waitPod(
        rig,
        b.name,
        "a status naming what is wrong",
        (p) => {
          const s = p.status?.containerStatuses?.[0]?.state;
          return (
            s?.waiting?.message !== undefined || s?.terminated !== undefined || p.status?.phase === "Failed"
          );
        },
        60_000,
      ).catch(async () => getPod(rig, b.name));
      outcomes.push(
        `${b.name}: ${JSON.stringify(pod?.status?.containerStatuses?.[0]?.state ?? pod?.status)}`,
      );
      expect(b.clear("", pod), `${b.name}: ${JSON.stringify(pod?.status)}`).toBe(true);
    }
    console.log(`malformed pod specs:\n  ${outcomes.join("\n  ")}`);
    await nothingElseAffected("after-bad-pods");
  });

  it("hostile Service names", async (ctx) => {
    row(ctx, {
      fault: "hostile Service names",
      checked: "path, shell and rule-syntax names rejected with a clear error; kube-proxy keeps serving",
    });
    for (const name of ["../../etc", "a;nft flush ruleset", "x$(reboot)", "A".repeat(300), "svc\nname"]) {
      await expect(
        rig.admin.request({
          method: "POST",
          path: "/api/v1/namespaces/default/services",
          body: {
            apiVersion: "v1",
            kind: "Service",
            metadata: { name },
            spec: { selector: { app: "web" }, ports: [{ port: 80, targetPort: 8080 }] },
          },
        }),
        JSON.stringify(name),
      ).rejects.toThrow(/Invalid|invalid|metadata\.name|name/);
    }
    await nothingElseAffected("after-bad-services");
  });

  it("1 MiB of env", async (ctx) => {
    row(ctx, {
      fault: "1 MiB of env",
      checked:
        "one 1 MiB variable: CreateContainerConfigError naming it and Linux's per-variable limit; 1 MiB in 16 variables of 64 KiB: runs and sees them",
    });
    await createPod(
      rig,
      podBody("env-one-mib", image, ["sleep", "3600"], {
        containers: [
          {
            name: "main",
            image,
            imagePullPolicy: "IfNotPresent",
            command: ["sleep", "3600"],
            env: [{ name: "BIG", value: "x".repeat(1024 * 1024) }],
          },
        ],
      }),
    );
    const big = await waitPod(rig, "env-one-mib", "CreateContainerConfigError", (p) =>
      Boolean(p.status?.containerStatuses?.[0]?.state.waiting?.message),
    );
    const waiting = big.status!.containerStatuses![0]!.state.waiting!;
    console.log(`1 MiB env var: ${waiting.reason}: ${waiting.message}`);
    expect(waiting.reason).toBe("CreateContainerConfigError");
    expect(waiting.message).toMatch(/^env var "BIG" of container "main" is 1048581 bytes; .*MAX_ARG_STRLEN/);
    // The same megabyte in 64 KiB pieces is within what execve takes: the container sees the last one.
    await createPod(
      rig,
      podBody("env-16x64k", image, [], {
        containers: [
          {
            name: "main",
            image,
            imagePullPolicy: "IfNotPresent",
            // biome-ignore lint/suspicious/noTemplateCurlyInString: a shell parameter expansion
            command: ["sh", "-c", 'test "${#V15}" -eq 65536 && exec sleep 3600'],
            env: Array.from({ length: 16 }, (_, i) => ({ name: `V${i}`, value: "y".repeat(64 * 1024) })),
          },
        ],
      }),
    );
    await waitPod(rig, "env-16x64k", "Running with 16 x 64 KiB of env", running);
    row(ctx, { note: `"${waiting.message}"` });
    await nothingElseAffected("after-big-env");
  });

  it("invalid EndpointSlices", async (ctx) => {
    row(ctx, {
      fault: "invalid EndpointSlices",
      checked:
        "bad address, port out of range, no service-name label, hostile port name and hostname, IPv6 in an IPv4 slice: rejected by the API server or skipped and logged by kube-proxy; none of their text in the ruleset; other Services keep their traffic",
    });
    await rig.admin.request({
      method: "POST",
      path: "/api/v1/namespaces/default/services",
      body: {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "eps-target" },
        spec: { ports: [{ port: 80, targetPort: 8080 }] },
      },
    });
    const slice = (
      name: string,
      endpoints: Record<string, unknown>[],
      opts: { port?: number; portName?: string; label?: boolean; addressType?: string } = {},
    ) => ({
      apiVersion: "discovery.k8s.io/v1",
      kind: "EndpointSlice",
      metadata: {
        name,
        namespace: "default",
        labels: opts.label === false ? {} : { "kubernetes.io/service-name": "eps-target" },
      },
      addressType: opts.addressType ?? "IPv4",
      endpoints,
      ports: [{ name: opts.portName ?? "", port: opts.port ?? 8080, protocol: "TCP" }],
    });
    const ep = (...addresses: string[]) => ({ addresses, conditions: { ready: true } });
    // Each case has a valid endpoint next to the bad part: that address must not be programmed
    // either, since the object is skipped as a whole. `never` is text that must reach no rule.
    const cases: { body: ReturnType<typeof slice>; never: string[]; skipped: boolean }[] = [
      {
        body: slice("bad-address", [ep("10.244.1.201"), ep("10.244.1.999")]),
        never: ["10.244.1.201"],
        skipped: true,
      },
      {
        body: slice("port-range", [ep("10.244.1.202")], { port: 70000 }),
        never: ["10.244.1.202", "70000"],
        skipped: true,
      },
      {
        body: slice("no-label", [ep("10.244.1.203")], { label: false }),
        never: ["10.244.1.203"],
        skipped: true,
      },
      {
        body: slice("hostile-port-name", [ep("10.244.1.204")], { portName: 'p";flush ruleset' }),
        never: ["10.244.1.204", "flush ruleset"],
        skipped: true,
      },
      {
        body: slice("ipv6-in-ipv4", [ep("10.244.1.206"), ep("fd00::206")]),
        never: ["10.244.1.206", "fd00::206"],
        skipped: true,
      },
      // kube-proxy never reads an endpoint's hostname (nor does upstream's): the slice is valid to
      // it and programs its address; the hostname must simply reach no rule.
      {
        body: slice("hostile-hostname", [{ ...ep("10.244.1.205"), hostname: 'h";flush ruleset;#' }]),
        never: ["flush ruleset"],
        skipped: false,
      },
    ];
    const outcomes: string[] = [];
    const accepted: typeof cases = [];
    for (const c of cases) {
      try {
        await rig.admin.request({
          method: "POST",
          path: "/apis/discovery.k8s.io/v1/namespaces/default/endpointslices",
          body: c.body,
        });
        accepted.push(c);
      } catch (err) {
        outcomes.push(
          `${c.body.metadata.name}: API server rejected it (${(err as Error).message.slice(0, 140)})`,
        );
      }
    }
    // kube-proxy reports each accepted bad slice by name.
    await waitFor(
      "kube-proxy reports every accepted bad slice",
      () => {
        const log = rig.proxy.tail(300);
        const missing = accepted.filter((c) => {
          if (!c.skipped) return false;
          const name = c.body.metadata.name;
          if (name === "no-label")
            return !log.includes(`no kubernetes.io/service-name label set on endpoint slice: \\"no-label\\"`);
          return !log
            .split("\n")
            .some((l) => l.includes("Skipping invalid object") && l.includes(`default/${name}`));
        });
        return missing.length === 0 ? true : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    ).catch(() => {
      throw new Error(`not every bad slice was reported; kube-proxy log:\n${rig.proxy.tail(40)}`);
    });
    // The valid hostname case is programmed: its address in the ruleset proves a sync ran after them all.
    const { stdout: ruleset } = await waitFor(
      "the hostile-hostname slice's address programmed",
      async () => {
        const r = await rig.node.exec(["nft", "list", "ruleset"]);
        return r.stdout.includes("10.244.1.205") ? r : undefined;
      },
      { timeoutMs: 30_000, intervalMs: 500 },
    );
    for (const c of accepted) {
      for (const text of c.never)
        expect(ruleset, `${c.body.metadata.name}: ${text} in the ruleset`).not.toContain(text);
      outcomes.push(
        `${c.body.metadata.name}: accepted by the API server, ${c.skipped ? "skipped and logged by kube-proxy" : "programmed without its hostname"}`,
      );
    }
    console.log(`invalid EndpointSlices:\n  ${outcomes.join("\n  ")}`);
    row(ctx, { note: `${accepted.length} of ${cases.length} accepted by the simulator` });
    await nothingElseAffected("after-bad-slices");
  });

  it("garbage on the kubelet's :10250 and kube-proxy's healthz and metrics ports", async (ctx) => {
    row(ctx, {
      fault: "garbage on :10250, :10256, :10249",
      checked:
        "HTTP/1.0, binary garbage, 100 KiB header, slowloris: answered or dropped; servers keep serving",
    });
    const ports: [string, number, string][] = [
      ["tls", 10250, "/healthz"],
      ["plain", 10256, "/healthz"],
      ["plain", 10249, "/metrics"],
    ];
    // The three servers are probed at the same time; each case on its own connection.
    await Promise.all(
      ports.map(async ([tlsKind, port, path]) => {
        const k = (m: string) => (tlsKind === "tls" ? `tls-${m}` : m);
        const http10 = await probe(k("raw"), port, `GET ${path} HTTP/1.0\r\n\r\n`);
        expect(http10.data, `HTTP/1.0 on ${port}`).toMatch(/^HTTP\/1\.[01] \d{3}/);
        // Garbage: a 400 or a closed connection, never a hang.
        const garbage = await probe(k("raw"), port, "\x00\x01\xff\xfegarbage\r\n\r\n");
        expect(
          garbage.data === "" || garbage.data.startsWith("HTTP/1.1 400"),
          `garbage on ${port}: ${garbage.data}`,
        ).toBe(true);
        expect(garbage.open, `garbage on ${port}: connection closed`).toBeUndefined();
        const huge = await probe(k("raw"), port, `GET ${path} HTTP/1.1\r\nHost: x\r\nX-Big: {{BIG}}\r\n\r\n`);
        expect(
          huge.data === "" || huge.data.startsWith("HTTP/1.1 431"),
          `100 KiB header on ${port}: ${huge.data}`,
        ).toBe(true);
        expect(huge.open, `100 KiB header on ${port}: connection closed`).toBeUndefined();
        const slow = await probe(
          k("slowloris"),
          port,
          `GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`,
        );
        expect(slow.data, `request next to a slowloris on ${port}`).toMatch(/^HTTP\/1\.1 (200|401)/);
      }),
    );
    assertAlive(rig);
    await nothingElseAffected("after-garbage");
  });

  it("kubelet API: no credentials 401, another node's identity 403", async (ctx) => {
    row(ctx, {
      fault: "kubelet API authn/authz",
      checked: "no credentials -> 401; system:node:node-2 -> 403; own node -> not 401/403",
    });
    const get = (token?: string) =>
      probe(
        "tls-raw",
        10250,
        `GET /pods HTTP/1.1\r\nHost: x\r\nConnection: close\r\n${token ? `Authorization: Bearer ${token}\r\n` : ""}\r\n`,
      );
    expect((await get()).data).toMatch(/^HTTP\/1\.1 401/);
    expect((await get(rig.server.tokenFor("system:node:node-2", ["system:nodes"]))).data).toMatch(
      /^HTTP\/1\.1 403/,
    );
    expect((await get(rig.server.tokenFor("system:anonymous", ["system:unauthenticated"]))).data).toMatch(
      /^HTTP\/1\.1 40[13]/,
    );
    expect((await get(rig.server.tokenFor("admin", ["system:masters"]))).data).toMatch(/^HTTP\/1\.1 200/);
  });

  it("NodeRestriction: a node cannot write another node's objects", async (ctx) => {
    row(ctx, {
      fault: "NodeRestriction",
      checked: "node-1 patching node-2's Node and Lease, and its own protected labels -> 403",
    });
    await rig.kubectl(
      ["apply", "-f", "-"],
      JSON.stringify({ apiVersion: "v1", kind: "Node", metadata: { name: "node-2" } }),
    );
    const { createKubeClient, loadKubeConfig } = await import("@kubenode/kube");
    const node1 = createKubeClient(
      loadKubeConfig({ path: await rig.server.kubeconfigFor(`system:node:${NODE}`) }),
    );
    try {
      const patch = (path: string, body: unknown) =>
        node1.request({ method: "PATCH", path, contentType: "application/merge-patch+json", body });
      await expect(patch("/api/v1/nodes/node-2", { metadata: { labels: { x: "y" } } })).rejects.toThrow(
        /forbidden|Forbidden/,
      );
      await expect(patch("/api/v1/nodes/node-2/status", { status: { conditions: [] } })).rejects.toThrow(
        /forbidden|Forbidden/,
      );
      await expect(
        node1.request({
          method: "POST",
          path: "/apis/coordination.k8s.io/v1/namespaces/kube-node-lease/leases",
          body: {
            apiVersion: "coordination.k8s.io/v1",
            kind: "Lease",
            metadata: { name: "node-2" },
            spec: { holderIdentity: "node-2" },
          },
        }),
      ).rejects.toThrow(/forbidden|Forbidden/);
      await expect(
        patch(`/api/v1/nodes/${NODE}`, {
          metadata: { labels: { "node-restriction.kubernetes.io/pool": "evil" } },
        }),
      ).rejects.toThrow(/forbidden|Forbidden/);
    } finally {
      node1.close();
    }
  });

  it("files the kubelet writes are not world-writable", async (ctx) => {
    row(ctx, {
      fault: "kubelet file modes",
      checked:
        "nothing under the root dir and pod log dir is world-writable (emptyDir volumes and termination-message files excepted, as upstream)",
    });
    const worldWritable: string[] = [];
    let files = 0;
    async function walk(dir: string) {
      for (const entry of await readdir(dir).catch(() => [])) {
        const path = join(dir, entry);
        const st = await lstat(path).catch(() => undefined);
        if (!st || st.isSymbolicLink()) continue;
        files++;
        if (/kubernetes\.io~empty-dir/.test(path)) continue;
        // A container's termination-message file is 0666 upstream (kuberuntime makeMounts chmods
        // it so a container running as any user can write its message); its directory is not.
        if (st.isFile() && /\/pods\/[^/]+\/containers\/[^/]+\/[^/]+$/.test(path)) continue;
        if ((st.mode & 0o002) !== 0) worldWritable.push(`${path} ${(st.mode & 0o7777).toString(8)}`);
        if (st.isDirectory()) await walk(path);
      }
    }
    await walk(rig.kubelet.dir);
    row(ctx, { note: `${files} files and directories` });
    expect(files).toBeGreaterThan(5);
    expect(worldWritable).toEqual([]);
  });

  it("secret volumes: tmpfs, the requested modes, unreadable by other pods", async (ctx) => {
    row(ctx, {
      fault: "secret volumes",
      checked:
        "a secret volume is its own tmpfs with files at defaultMode 0400; another pod sees neither the files nor the value",
    });
    const value = `s3cr3t-${Date.now()}`;
    await rig.admin.request({
      method: "POST",
      path: "/api/v1/namespaces/default/secrets",
      body: { metadata: { name: "guarded" }, stringData: { token: value } },
    });
    const holder = await createPod(
      rig,
      podBody("secret-holder", image, ["sleep", "3600"], {
        volumes: [{ name: "creds", secret: { secretName: "guarded", defaultMode: 0o400 } }],
      }),
    );
    await waitPod(rig, "secret-holder", "Running with its secret", running);
    const dir = join(
      rig.rootDir,
      "pods",
      holder.metadata.uid ?? "",
      "volumes",
      "kubernetes.io~secret",
      "creds",
    );
    const mount = (await readFile("/proc/self/mountinfo", "utf8"))
      .split("\n")
      .find((l) => l.split(" ")[4] === dir);
    expect(mount, `no mount at ${dir}`).toMatch(/ - tmpfs /);
    const file = await stat(join(dir, "token"));
    expect(file.mode & 0o777).toBe(0o400);
    expect(await readFile(join(dir, "token"), "utf8")).toBe(value);
    // Another pod of the node: the host path does not exist in its mount namespace, and the value
    // is nowhere in what it can read.
    await createPod(rig, podBody("snoop", image, ["sleep", "3600"]));
    const snoop = await waitPod(rig, "snoop", "Running next to the secret holder", running);
    const cri = criOf(rig);
    try {
      const id = snoop.status?.containerStatuses?.[0]?.containerID?.replace(/^containerd:\/\//, "") ?? "";
      const look = await cri.execSync({
        containerId: id,
        // The path and the value are test-made constants; /proc and /sys are left out (the
        // command line itself holds the value, and some kernel files block on read).
        cmd: [
          "sh",
          "-c",
          `ls ${dir} 2>&1; find / -path /proc -prune -o -path /sys -prune -o -type f -print 2>/dev/null | xargs grep -l "${value}" 2>/dev/null; true`,
        ],
        timeout: 60n,
      });
      const out = look.stdout.toString();
      expect(out).toMatch(/No such file or directory/);
      expect(out).not.toContain("/token");
      row(ctx, { note: "the other pod's search of its whole filesystem found nothing" });
    } finally {
      cri.close();
      for (const name of ["secret-holder", "snoop"])
        await rig.admin.request({ method: "DELETE", path: `/api/v1/namespaces/default/pods/${name}` });
    }
    await waitFor("the secret volume torn down with its pod", () => (existsSync(dir) ? undefined : true), {
      timeoutMs: 60_000,
    });
  });

  it("no command built from user input goes through a shell", async (ctx) => {
    row(ctx, {
      fault: "shell commands",
      checked:
        "the agents' and blocks' built code never imports exec/execSync, passes no shell option and starts no sh -c: every child process gets an argument array",
    });
    // The code that runs on a node, as published (turbo builds before tests).
    const repo = join(import.meta.dirname, "..", "..", "..");
    const roots = [
      ...["kubelet", "kube-proxy"].map((a) => join(repo, "apps", a, "dist")),
      ...["kube", "cri-client", "node-status", "heartbeat", "eviction", "netrules"].map((p) =>
        join(repo, "packages", p, "dist"),
      ),
    ];
    const checks: [RegExp, string][] = [
      [/import\s*\{[^}]*\b(exec|execSync)\b[^}]*\}\s*from\s*["'](node:)?child_process["']/, "imports exec"],
      [/\bshell:\s*(true|["'`])/, "shell option"],
      [/\b(spawn|execFile|execFileSync|spawnSync)\(\s*["'](\/bin\/)?(ba)?sh["']/, "runs a shell"],
    ];
    const offenders: string[] = [];
    let files = 0;
    for (const root of roots) {
      for (const entry of await readdir(root, { recursive: true })) {
        if (!entry.endsWith(".js")) continue;
        files++;
        const text = await readFile(join(root, entry), "utf8");
        for (const [re, what] of checks) if (re.test(text)) offenders.push(`${root}/${entry}: ${what}`);
      }
    }
    row(ctx, { note: `${files} built files of the agents and blocks scanned` });
    expect(files).toBeGreaterThan(10);
    expect(offenders).toEqual([]);
  });

  it("kube-proxy healthz and metrics bind where upstream binds them", async (ctx) => {
    row(ctx, {
      fault: "kube-proxy bind addresses",
      checked: "healthz on 0.0.0.0:10256, metrics on 127.0.0.1:10249 (upstream defaults)",
    });
    const { stdout } = await rig.node.exec(["ss", "-Hltn"]);
    const listening = stdout
      .split("\n")
      .map((l) => l.trim().split(/\s+/)[3])
      .filter(Boolean);
    expect(listening).toContain("127.0.0.1:10249");
    expect(listening.some((a) => a === "0.0.0.0:10256" || a === "*:10256")).toBe(true);
    expect(listening.filter((a) => a!.endsWith(":10249"))).toEqual(["127.0.0.1:10249"]);
  });
});
