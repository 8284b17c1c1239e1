import { type ChildProcess, spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse as parseYaml } from "yaml";
import { type ApiServer, startApiServer } from "./server.js";
import { eventually, kubectl, raw, requireKubectl } from "./test-support.js";

const MANIFEST = `apiVersion: v1
kind: Pod
metadata:
  name: web
  labels:
    app: web
spec:
  containers:
  - name: web
    image: nginx:1.25
    ports:
    - containerPort: 80
---
apiVersion: v1
kind: Service
metadata:
  name: web
spec:
  selector:
    app: web
  ports:
  - port: 80
    name: http
`;

const available = await requireKubectl("the kubectl black-box tests");

describe.skipIf(!available)("kubectl as a black box", () => {
  let server: ApiServer;
  let kc: string;
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    server = await startApiServer();
    kc = server.kubeconfigPath;
    const nodeKc = await server.kubeconfigFor("system:node:node-a");
    const node = {
      apiVersion: "v1",
      kind: "Node",
      metadata: { name: "node-a", labels: { "kubernetes.io/hostname": "node-a" } },
      status: {
        capacity: { cpu: "4", memory: "8Gi", pods: "110" },
        allocatable: { cpu: "4", memory: "8Gi", pods: "110" },
        conditions: [
          {
            type: "Ready",
            status: "True",
            reason: "KubeletReady",
            message: "kubelet is posting ready status",
            lastHeartbeatTime: new Date().toISOString(),
            lastTransitionTime: new Date().toISOString(),
          },
        ],
        addresses: [{ type: "InternalIP", address: "10.0.0.10" }],
        nodeInfo: { kubeletVersion: "v1.32.0", containerRuntimeVersion: "containerd://1.6.20" },
      },
    };
    const r = await kubectl(nodeKc, ["create", "-f", "-"], JSON.stringify(node));
    expect(r.stderr).toBe("");
  });
  afterAll(async () => {
    for (const c of children) c.kill();
    await server?.stop();
  });

  it("apply -f creates, then configures on change", async () => {
    const first = await kubectl(kc, ["apply", "-f", "-"], MANIFEST);
    expect(first.stderr).toBe("");
    expect(first.stdout).toBe("pod/web created\nservice/web created\n");
    const again = await kubectl(kc, ["apply", "-f", "-"], MANIFEST);
    expect(again.stdout).toBe("pod/web unchanged\nservice/web unchanged\n");
    const changed = await kubectl(kc, ["apply", "-f", "-"], MANIFEST.replace("nginx:1.25", "nginx:1.26"));
    expect(changed.stdout).toBe("pod/web configured\nservice/web unchanged\n");
    const got = await kubectl(kc, ["get", "pod", "web", "-o", "yaml"]);
    const pod = parseYaml(got.stdout);
    expect(pod.spec.containers[0].image).toBe("nginx:1.26");
    expect(pod.spec.containers[0].imagePullPolicy).toBe("IfNotPresent");
    expect(pod.metadata.annotations["kubectl.kubernetes.io/last-applied-configuration"]).toContain(
      "nginx:1.26",
    );
  });

  it("get prints server-side tables and schedules onto the ready node", async () => {
    await eventually(
      async () =>
        (await kubectl(kc, ["get", "pod", "web", "-o", "jsonpath={.spec.nodeName}"])).stdout === "node-a",
      10_000,
      "scheduling",
    );
    const out = await kubectl(kc, ["get", "pods", "-o", "wide"]);
    expect(out.stdout.split("\n")[0]).toMatch(/^NAME\s+READY\s+STATUS\s+RESTARTS\s+AGE\s+IP\s+NODE/);
    expect(out.stdout).toMatch(/web\s+0\/1\s+Pending/);
    const nodes = await kubectl(kc, ["get", "nodes"]);
    expect(nodes.stdout).toMatch(/node-a\s+Ready\s+<none>/);
  });

  it("patches with all three patch types", async () => {
    const smp = await kubectl(kc, ["patch", "pod", "web", "-p", '{"metadata":{"labels":{"tier":"front"}}}']);
    expect(smp.stdout).toBe("pod/web patched\n");
    const merge = await kubectl(kc, [
      "patch",
      "service",
      "web",
      "--type",
      "merge",
      "-p",
      '{"metadata":{"annotations":{"a":"b"}}}',
    ]);
    expect(merge.stdout).toBe("service/web patched\n");
    const json = await kubectl(kc, [
      "patch",
      "pod",
      "web",
      "--type",
      "json",
      "-p",
      '[{"op":"replace","path":"/metadata/labels/tier","value":"back"}]',
    ]);
    expect(json.stdout).toBe("pod/web patched\n");
    const labels = await kubectl(kc, ["get", "pod", "web", "-o", "jsonpath={.metadata.labels.tier}"]);
    expect(labels.stdout).toBe("back");
    const noop = await kubectl(kc, ["patch", "pod", "web", "-p", '{"metadata":{"labels":{"tier":"back"}}}']);
    expect(noop.stdout).toBe("pod/web patched (no change)\n");
  });

  it("get -w streams changes and wait --for=condition returns when met", async () => {
    const child = spawn("kubectl", [
      "--kubeconfig",
      kc,
      "--cache-dir",
      join(dirname(kc), "kubectl-cache"),
      "get",
      "pod",
      "web",
      "-w",
      "-o",
      'jsonpath={.status.phase}{"\\n"}',
    ]);
    children.push(child);
    let out = "";
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
    });
    await eventually(() => out.includes("Pending"), 10_000, "initial watch line");
    const waiter = kubectl(kc, ["wait", "--for=condition=Ready", "pod/web", "--timeout=20s"]);
    const status = await kubectl(kc, [
      "patch",
      "pod",
      "web",
      "--subresource=status",
      "--type=merge",
      "-p",
      '{"status":{"phase":"Running","hostIP":"10.0.0.10","podIP":"10.244.0.5","conditions":[{"type":"Ready","status":"True"}]}}',
    ]);
    expect(status.stdout).toBe("pod/web patched\n");
    const w = await waiter;
    expect(w.stdout).toBe("pod/web condition met\n");
    await eventually(() => out.includes("Running"), 10_000, "watch to show Running");
    child.kill();
  });

  it("describe shows node and pod details", async () => {
    const node = await kubectl(kc, ["describe", "node", "node-a"]);
    expect(node.stdout).toMatch(/Name:\s+node-a/);
    expect(node.stdout).toMatch(/Ready\s+True/);
    expect(node.stdout).toMatch(/default\s+web/);
    const pod = await kubectl(kc, ["describe", "pod", "web"]);
    expect(pod.stdout).toMatch(/Node:\s+node-a\/10\.0\.0\.10/);
    expect(pod.stdout).toMatch(/IP:\s+10\.244\.0\.5/);
  });

  it("create generators (sent as protobuf) work", async () => {
    for (const args of [
      ["create", "namespace", "gen"],
      ["create", "configmap", "cfg", "-n", "gen", "--from-literal=k=v"],
      ["create", "secret", "generic", "sec", "-n", "gen", "--from-literal=p=s3cret"],
      ["create", "serviceaccount", "robot", "-n", "gen"],
      ["create", "service", "nodeport", "np", "-n", "gen", "--tcp=443:8443"],
    ]) {
      const r = await kubectl(kc, args);
      expect(r.stderr, args.join(" ")).toBe("");
    }
    const cfg = await kubectl(kc, ["get", "configmap", "cfg", "-n", "gen", "-o", "jsonpath={.data.k}"]);
    expect(cfg.stdout).toBe("v");
    const sec = await kubectl(kc, ["get", "secret", "sec", "-n", "gen", "-o", "jsonpath={.data.p}"]);
    expect(Buffer.from(sec.stdout, "base64").toString()).toBe("s3cret");
    const np = parseYaml((await kubectl(kc, ["get", "service", "np", "-n", "gen", "-o", "yaml"])).stdout);
    expect(np.spec.ports[0]).toMatchObject({ port: 443, targetPort: 8443, protocol: "TCP" });
    expect(np.spec.ports[0].nodePort).toBeGreaterThanOrEqual(30000);
  });

  it("explain reads the OpenAPI schema", async () => {
    const r = await kubectl(kc, ["explain", "pod.spec.containers"]);
    expect(r.stdout).toMatch(/FIELD:\s+containers/);
    expect(r.stdout).toContain("image");
  });

  it("explain covers the workload, certificate and RBAC kinds", async () => {
    for (const [path, field] of [
      ["deployment.spec.strategy", "rollingUpdate"],
      ["statefulset.spec", "serviceName"],
      ["daemonset.spec.updateStrategy", "rollingUpdate"],
      ["job.spec", "backoffLimit"],
      ["csr.spec", "signerName"],
      ["role.rules", "verbs"],
      ["rolebinding.roleRef", "apiGroup"],
    ]) {
      const r = await kubectl(kc, ["explain", path!]);
      expect(r.stderr, path).toBe("");
      expect(r.stdout, path).toContain(field);
    }
  });

  it("a node identity is forbidden outside its own objects", async () => {
    const nodeKc = await server.kubeconfigFor("system:node:node-a");
    const denied = await kubectl(nodeKc, ["delete", "service", "web"]);
    expect(denied.code).not.toBe(0);
    expect(denied.stderr).toContain(
      'Error from server (Forbidden): services "web" is forbidden: User "system:node:node-a" cannot delete resource "services"',
    );
    const canI = await kubectl(nodeKc, ["auth", "can-i", "create", "configmaps"]);
    expect(canI.stdout.trim()).toBe("no");
    const ownNode = await kubectl(nodeKc, ["label", "node", "node-a", "zone=a"]);
    expect(ownNode.stdout).toBe("node/node-a labeled\n");
    const whoami = await kubectl(nodeKc, ["auth", "whoami", "-o", "jsonpath={.status.userInfo.username}"]);
    expect(whoami.stdout).toBe("system:node:node-a");
  });

  it("drain cordons the node and evicts its pods", async () => {
    const r = await kubectl(kc, ["drain", "node-a", "--force", "--grace-period=0", "--timeout=30s"]);
    expect(r.stdout).toContain("node/node-a cordoned");
    expect(r.stdout).toContain("pod/web evicted");
    expect(r.stdout).toContain("node/node-a drained");
    const pods = await kubectl(kc, ["get", "pods", "-o", "name"]);
    expect(pods.stdout).toBe("");
    const unsched = await kubectl(kc, ["get", "node", "node-a", "-o", "jsonpath={.spec.unschedulable}"]);
    expect(unsched.stdout).toBe("true");
  });

  it("delete removes objects and reports NotFound afterwards", async () => {
    const del = await kubectl(kc, ["delete", "service", "web"]);
    expect(del.stdout).toBe('service "web" deleted\n');
    const gone = await kubectl(kc, ["get", "service", "web"]);
    expect(gone.code).not.toBe(0);
    expect(gone.stderr).toContain('Error from server (NotFound): services "web" not found');
  });

  it("works over plain HTTP with bearer tokens", async () => {
    const plain = await startApiServer({ tls: false });
    try {
      expect(plain.url).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
      const r = await kubectl(plain.kubeconfigPath, ["get", "namespaces", "-o", "name"]);
      expect(r.stdout).toContain("namespace/kube-node-lease");
      // tokens still authenticate clients that send them over http (client-node does; kubectl does not)
      await plain.kubeconfigFor("system:node:n1");
      const denied = await raw(
        plain,
        "POST",
        "/api/v1/namespaces/default/configmaps",
        '{"metadata":{"name":"x"}}',
        { "Content-Type": "application/json" },
        "system:node:n1",
      );
      expect(denied.status).toBe(403);
    } finally {
      await plain.stop();
    }
  });

  it("reports invalid manifests with the server's error", async () => {
    const bad = await kubectl(
      kc,
      ["create", "-f", "-"],
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: Not_Valid\n",
    );
    expect(bad.code).not.toBe(0);
    expect(bad.stderr).toContain(
      'The ConfigMap "Not_Valid" is invalid: metadata.name: Invalid value: "Not_Valid"',
    );
    const typo = await kubectl(
      kc,
      ["create", "-f", "-"],
      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: typo\ndatas:\n  a: b\n",
    );
    expect(typo.code).not.toBe(0);
    expect(typo.stderr).toContain('strict decoding error: unknown field "datas"');
    const unknown = await kubectl(
      kc,
      ["apply", "-f", "-"],
      "apiVersion: v1\nkind: Widget\nmetadata:\n  name: w\n",
    );
    expect(unknown.code).not.toBe(0);
    expect(unknown.stderr).toContain('no matches for kind "Widget" in version "v1"');
  });
});
