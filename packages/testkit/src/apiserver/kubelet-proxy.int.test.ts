import { execFile } from "node:child_process";
import { createServer, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { dirname, join } from "node:path";
import { connect, type TLSSocket } from "node:tls";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createServerPki } from "./certs.js";
import { findResource } from "./resources.js";
import { type ApiServer, startApiServer } from "./server.js";
import { eventually, raw } from "./test-support.js";

const kubectlFound = await new Promise<boolean>((r) =>
  execFile("kubectl", ["version", "--client"], (e) => r(!e)),
);
if (!kubectlFound && process.env.CI === "true")
  throw new Error("kubectl is required for the pods/log black-box test but was not found on PATH");

let server: ApiServer;
let kubelet: Server;
const seen: { path: string; clientCn: string | undefined }[] = [];

beforeAll(async () => {
  // a stand-in kubelet: serves container logs and echoes upgraded (exec) streams
  const pki = createServerPki();
  kubelet = createServer(
    { key: pki.serving.keyPem, cert: pki.serving.certPem, requestCert: true, rejectUnauthorized: false },
    (req, res) => {
      const cn = (req.socket as TLSSocket).getPeerCertificate()?.subject?.CN;
      seen.push({ path: req.url ?? "", clientCn: Array.isArray(cn) ? cn[0] : cn });
      res.writeHead(200, { "Content-Type": "text/plain" });
      res.end("line 1\nline 2\n");
    },
  );
  kubelet.on("upgrade", (req, socket) => {
    seen.push({ path: req.url ?? "", clientCn: undefined });
    socket.write("HTTP/1.1 101 Switching Protocols\r\nUpgrade: echo\r\nConnection: Upgrade\r\n\r\n");
    socket.pipe(socket);
  });
  await new Promise<void>((r) => kubelet.listen(0, "127.0.0.1", () => r()));
  const port = (kubelet.address() as AddressInfo).port;
  server = await startApiServer({ controllers: { scheduler: false, nodeLifecycle: false } });
  server.core.create(findResource("", "v1", "nodes")!, "", {
    metadata: { name: "n1" },
    status: {
      addresses: [{ type: "InternalIP", address: "127.0.0.1" }],
      daemonEndpoints: { kubeletEndpoint: { Port: port } },
    },
  });
  server.core.create(findResource("", "v1", "pods")!, "default", {
    metadata: { name: "web" },
    spec: { nodeName: "n1", containers: [{ name: "c", image: "x:1" }] },
  });
  server.core.create(findResource("", "v1", "pods")!, "default", {
    metadata: { name: "two" },
    spec: {
      nodeName: "n1",
      containers: [
        { name: "a", image: "x:1" },
        { name: "b", image: "x:1" },
      ],
    },
  });
});
afterAll(async () => {
  await server?.stop();
  kubelet?.closeAllConnections();
  await new Promise((r) => kubelet?.close(r));
});

describe("pods/log, exec, attach and portforward go to the pod's kubelet", () => {
  it.skipIf(!kubectlFound)(
    "kubectl logs streams from /containerLogs with the apiserver's kubelet client certificate",
    async () => {
      const out = await new Promise<string>((resolve, reject) =>
        execFile(
          "kubectl",
          [
            "--kubeconfig",
            server.kubeconfigPath,
            "--cache-dir",
            join(dirname(server.kubeconfigPath), "kubectl-cache"),
            "logs",
            "web",
            "--tail=2",
          ],
          (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout)),
        ),
      );
      expect(out).toBe("line 1\nline 2\n");
      expect(seen.at(-1)).toEqual({
        path: "/containerLogs/default/web/c?tailLines=2",
        clientCn: "kube-apiserver-kubelet-client",
      });
    },
  );

  it("asks for a container name when the pod has several", async () => {
    const r = await raw(server, "GET", "/api/v1/namespaces/default/pods/two/log");
    expect(r.status).toBe(400);
    expect(r.body.message).toBe("a container name must be specified for pod two, choose one of: [a b]");
  });

  it("pipes upgraded exec streams both ways", async () => {
    const kc = JSON.parse(server.kubeconfigText());
    const user = kc.users[0].user;
    const url = new URL(server.url);
    const sock = connect({
      host: "127.0.0.1",
      port: Number(url.port),
      ca: server.caPem,
      cert: Buffer.from(user["client-certificate-data"], "base64"),
      key: Buffer.from(user["client-key-data"], "base64"),
    });
    let got = "";
    sock.on("data", (d: Buffer) => {
      got += d.toString();
    });
    await new Promise((r) => sock.once("secureConnect", r));
    sock.write(
      "POST /api/v1/namespaces/default/pods/web/exec?command=sh&stdin=true&stdout=true HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: echo\r\n\r\n",
    );
    await eventually(() => got.startsWith("HTTP/1.1 101"), 5000, "101 Switching Protocols");
    sock.write("ping");
    await eventually(() => got.includes("ping"), 5000, "echoed bytes");
    sock.destroy();
    expect(got.startsWith("HTTP/1.1 101")).toBe(true);
    expect(got.endsWith("ping")).toBe(true);
    expect(seen.at(-1)?.path).toBe("/exec/default/web/c?command=sh&stdin=true&stdout=true");
  });
});

describe("nodes/proxy goes to the node's kubelet", () => {
  it.skipIf(!kubectlFound)(
    "kubectl get --raw /api/v1/nodes/<node>/proxy/<path> relays to the kubelet with the apiserver's kubelet client certificate",
    async () => {
      const out = await new Promise<string>((resolve, reject) =>
        execFile(
          "kubectl",
          [
            "--kubeconfig",
            server.kubeconfigPath,
            "get",
            "--raw",
            "/api/v1/nodes/n1/proxy/stats/summary?only_cpu_and_memory=true",
          ],
          (err, stdout, stderr) => (err ? reject(new Error(stderr)) : resolve(stdout)),
        ),
      );
      expect(out).toBe("line 1\nline 2\n");
      expect(seen.at(-1)).toEqual({
        path: "/stats/summary?only_cpu_and_memory=true",
        clientCn: "kube-apiserver-kubelet-client",
      });
      const r = await raw(server, "GET", "/api/v1/nodes/n1/proxy");
      expect(r.status).toBe(200);
      expect(seen.at(-1)?.path).toBe("/");
      expect(server.requests.at(-1)).toMatchObject({
        verb: "get",
        resource: "nodes",
        subresource: "proxy",
        name: "n1",
        user: "admin",
        code: 200,
      });
    },
  );

  it("is authorized as the proxy subresource of the node; unknown nodes are 404", async () => {
    const before = seen.length;
    const denied = await raw(
      server,
      "GET",
      "/api/v1/nodes/n1/proxy/metrics",
      undefined,
      {},
      "system:kube-proxy",
    );
    expect(denied.status).toBe(403);
    expect(denied.body.message).toBe(
      'nodes "n1" is forbidden: User "system:kube-proxy" cannot get resource "nodes/proxy" in API group "" at the cluster scope',
    );
    const missing = await raw(server, "GET", "/api/v1/nodes/nope/proxy/metrics");
    expect(missing.status).toBe(404);
    expect(missing.body.message).toBe('nodes "nope" not found');
    expect(seen.length).toBe(before);
  });

  it("a kubelet that does not answer is 503 naming the error", async () => {
    server.core.create(findResource("", "v1", "nodes")!, "", {
      metadata: { name: "gone" },
      status: {
        addresses: [{ type: "InternalIP", address: "127.0.0.1" }],
        daemonEndpoints: { kubeletEndpoint: { Port: 1 } },
      },
    });
    const r = await raw(server, "GET", "/api/v1/nodes/gone/proxy/healthz");
    expect(r.status).toBe(503);
    expect(r.body.message).toMatch(/^error trying to reach service: connect ECONNREFUSED 127\.0\.0\.1:1$/);
  });
});

describe("which kubelet addresses the simulator dials", () => {
  it("refuses a node address that is not loopback, without dialling it", async () => {
    server.core.create(findResource("", "v1", "nodes")!, "", {
      metadata: { name: "in-a-namespace" },
      status: { addresses: [{ type: "InternalIP", address: "10.77.0.10" }] },
    });
    server.core.create(findResource("", "v1", "pods")!, "default", {
      metadata: { name: "far" },
      spec: { nodeName: "in-a-namespace", containers: [{ name: "c", image: "x:1" }] },
    });
    const before = seen.length;
    const r = await raw(server, "GET", "/api/v1/namespaces/default/pods/far/log");
    expect(r.status).toBe(500);
    expect(r.body.message).toBe(
      "error dialing backend: the simulator reaches kubelets on loopback addresses only, not 10.77.0.10:10250 (node in-a-namespace); map the node with startApiServer's kubeletDialer option",
    );
    expect(seen.length).toBe(before);
  });

  it("dials where kubeletDialer maps a node (a loopback port bridged to it)", async () => {
    const port = (kubelet.address() as AddressInfo).port;
    const mapped = await startApiServer({
      controllers: { scheduler: false, nodeLifecycle: false },
      kubeletDialer: ({ nodeName, address }) =>
        nodeName === "n2" && address === "10.77.0.11" ? { host: "127.0.0.1", port } : undefined,
    });
    try {
      mapped.core.create(findResource("", "v1", "nodes")!, "", {
        metadata: { name: "n2" },
        status: { addresses: [{ type: "InternalIP", address: "10.77.0.11" }] },
      });
      mapped.core.create(findResource("", "v1", "pods")!, "default", {
        metadata: { name: "near" },
        spec: { nodeName: "n2", containers: [{ name: "c", image: "x:1" }] },
      });
      const r = await raw(mapped, "GET", "/api/v1/namespaces/default/pods/near/log");
      expect(r.status).toBe(200);
      expect(seen.at(-1)?.path).toBe("/containerLogs/default/near/c");
    } finally {
      await mapped.stop();
    }
  });
});
