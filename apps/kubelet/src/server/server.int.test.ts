// The :10250 server's authentication and authorization against the API server simulator's
// TokenReview and SubjectAccessReview, with client certificates signed by its CA.

import { mkdtemp, rm } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeClock, createKubeClient, type KubeClient, loadKubeConfig } from "@kubenode/kube";
import { type ApiServer, startApiServer } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { recordingLogger } from "../../test/rig.js";
import type { Pod } from "../api.js";
import type { PodRuntime } from "../runtime/types.js";
import { createKubeletAuth } from "./auth.js";
import { createKubeletServer, type KubeletServer } from "./server.js";
import { loadServingCert } from "./serving-cert.js";

const NODE = "node-a";

interface Creds {
  cert?: string;
  key?: string;
  token?: string;
}

interface Reply {
  status: number;
  body: string;
}

function get(port: number, path: string, creds: Creds = {}, method = "GET"): Promise<Reply> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: "127.0.0.1",
        port,
        path,
        method,
        rejectUnauthorized: false,
        ...(creds.cert ? { cert: creds.cert, key: creds.key } : {}),
        headers: creds.token ? { Authorization: `Bearer ${creds.token}` } : {},
        agent: false,
      },
      (res) => {
        let body = "";
        res.setEncoding("utf8");
        res.on("data", (d: string) => {
          body += d;
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      },
    );
    req.on("error", reject);
    req.end();
  });
}

async function certOf(server: ApiServer, identity: string, groups?: string[]): Promise<Creds> {
  await server.kubeconfigFor(identity, groups);
  const kc = JSON.parse(server.kubeconfigText(identity));
  const user = kc.users[0].user;
  return {
    cert: Buffer.from(user["client-certificate-data"], "base64").toString(),
    key: Buffer.from(user["client-key-data"], "base64").toString(),
  };
}

const pod: Pod = {
  metadata: { name: "web", namespace: "default", uid: "uid-1" },
  spec: { containers: [{ name: "c", image: "busybox" }] },
  status: { phase: "Running" },
};
const runtime = { listPods: async () => [] } as unknown as PodRuntime;

let api: ApiServer;
let nodeClient: KubeClient;
let tmp: string;
let tls: { certPem: string; keyPem: string };
const servers: KubeletServer[] = [];
const clock = createFakeClock();
const { logger, records } = recordingLogger();

async function startServer(
  auth: Parameters<typeof createKubeletAuth>[0]["authentication"] = {},
  authz: Parameters<typeof createKubeletAuth>[0]["authorization"] = {},
): Promise<KubeletServer> {
  const server = createKubeletServer({
    kubelet: { pods: () => [pod], runtime },
    auth: createKubeletAuth({
      nodeName: NODE,
      client: nodeClient,
      authentication: { clientCAPem: api.caPem!, ...auth },
      authorization: authz,
      clock,
    }),
    tls,
    clientCAPem: api.caPem!,
    address: "127.0.0.1",
    port: 0,
    healthzBindAddress: "127.0.0.1",
    healthzPort: 0,
    configz: () => ({ maxPods: 110 }),
    clock,
    logger,
  });
  servers.push(server);
  await server.start();
  return server;
}

beforeAll(async () => {
  api = await startApiServer({ controllers: { scheduler: false, nodeLifecycle: false } });
  nodeClient = createKubeClient(loadKubeConfig({ path: await api.kubeconfigFor(`system:node:${NODE}`) }));
  tmp = await mkdtemp(join(tmpdir(), "kubenode-server-test-"));
  tls = await loadServingCert({ certDir: join(tmp, "pki"), hostname: NODE, ips: ["127.0.0.1"], logger });
}, 120_000);

afterAll(async () => {
  for (const s of servers) await s.stop();
  nodeClient?.close();
  await api?.stop();
  if (tmp) await rm(tmp, { recursive: true, force: true });
});

describe("kubelet server: serving certificate", () => {
  it("creates a self-signed certificate once, warns, and reuses it", async () => {
    expect(tls.certPem).toContain("BEGIN CERTIFICATE");
    expect(records.some((r) => r.level === "warn" && /self-signed/.test(r.msg))).toBe(true);
    const again = await loadServingCert({ certDir: join(tmp, "pki"), hostname: NODE, ips: [], logger });
    expect(again.certPem).toBe(tls.certPem);
    expect(again.selfSigned).toBe(true);
  });

  it("refuses a certificate file without its key, naming both settings", async () => {
    await expect(
      loadServingCert({ certFile: "/x.crt", certDir: tmp, hostname: NODE, ips: [], logger }),
    ).rejects.toThrow("tlsCertFile and tlsPrivateKeyFile must be given together");
  });
});

describe("kubelet server: authentication and authorization", () => {
  let server: KubeletServer;
  let admin: Creds;
  let alice: Creds;
  beforeAll(async () => {
    server = await startServer();
    admin = await certOf(api, "admin");
    alice = await certOf(api, "alice");
  });

  it("answers 401 Unauthorized without credentials, as upstream with anonymous auth off", async () => {
    expect(await get(server.port, "/pods")).toEqual({ status: 401, body: "Unauthorized" });
    expect(await get(server.port, "/healthz")).toEqual({ status: 401, body: "Unauthorized" });
  });

  it("answers 401 for a token the API server does not know", async () => {
    expect(await get(server.port, "/pods", { token: "not-a-token" })).toEqual({
      status: 401,
      body: "Unauthorized",
    });
  });

  it("answers 403 with upstream's message for an identity without nodes/* permission", async () => {
    expect(await get(server.port, "/pods", alice)).toEqual({
      status: 403,
      body: "Forbidden (user=alice, verb=get, resource=nodes, subresource(s)=[pods proxy])",
    });
    expect((await get(server.port, "/stats/summary", alice)).body).toBe(
      "Forbidden (user=alice, verb=get, resource=nodes, subresource(s)=[stats])",
    );
    expect((await get(server.port, "/metrics", alice)).body).toBe(
      "Forbidden (user=alice, verb=get, resource=nodes, subresource(s)=[metrics])",
    );
    expect((await get(server.port, "/containerLogs/default/web/c", alice)).body).toBe(
      "Forbidden (user=alice, verb=get, resource=nodes, subresource(s)=[proxy])",
    );
    expect((await get(server.port, "/exec/default/web/c?command=ls", alice, "POST")).body).toBe(
      "Forbidden (user=alice, verb=create, resource=nodes, subresource(s)=[proxy])",
    );
  });

  it("serves an admin client certificate: /pods, /healthz, /configz", async () => {
    const pods = await get(server.port, "/pods", admin);
    expect(pods.status).toBe(200);
    const list = JSON.parse(pods.body);
    expect(list.kind).toBe("PodList");
    expect(list.items.map((p: Pod) => p.metadata.name)).toEqual(["web"]);
    expect(await get(server.port, "/healthz", admin)).toEqual({ status: 200, body: "ok" });
    expect(JSON.parse((await get(server.port, "/configz", admin)).body)).toEqual({
      kubeletconfig: { maxPods: 110 },
    });
    expect((await get(server.port, "/nope", admin)).status).toBe(404);
  });

  it("authenticates bearer tokens with TokenReview and caches the answer", async () => {
    const token = api.tokenFor("bob", ["system:masters"]);
    const reviews = () =>
      api.requests.filter((r) => r.resource === "tokenreviews" && r.verb === "create").length;
    const before = reviews();
    expect((await get(server.port, "/pods", { token })).status).toBe(200);
    expect((await get(server.port, "/pods", { token })).status).toBe(200);
    expect(reviews() - before).toBe(1);
    const carol = api.tokenFor("carol");
    expect((await get(server.port, "/pods", { token: carol })).body).toBe(
      "Forbidden (user=carol, verb=get, resource=nodes, subresource(s)=[pods proxy])",
    );
  });

  it("asks SubjectAccessReview once per decision within the cache TTL", async () => {
    const sars = () => api.requests.filter((r) => r.resource === "subjectaccessreviews").length;
    const dave = await certOf(api, "dave", ["system:masters"]);
    const before = sars();
    await get(server.port, "/stats/summary", dave);
    await get(server.port, "/stats/summary", dave);
    expect(sars() - before).toBe(1);
  });

  it("serves /healthz on the plain-HTTP healthz port without credentials", async () => {
    const reply = await new Promise<Reply>((resolve, reject) => {
      httpRequest({ host: "127.0.0.1", port: server.healthzPort, path: "/healthz" }, (res) => {
        let body = "";
        res.on("data", (d: Buffer) => {
          body += d.toString();
        });
        res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      })
        .on("error", reject)
        .end();
    });
    expect(reply).toEqual({ status: 200, body: "ok" });
  });
});

describe("kubelet server: other modes", () => {
  it("anonymous requests run as system:anonymous when enabled", async () => {
    const server = await startServer({ anonymous: true });
    expect(await get(server.port, "/pods")).toEqual({
      status: 403,
      body: "Forbidden (user=system:anonymous, verb=get, resource=nodes, subresource(s)=[pods proxy])",
    });
  });

  it("AlwaysAllow lets every authenticated user in, but still not anonymous ones", async () => {
    const server = await startServer({}, { mode: "AlwaysAllow" });
    expect((await get(server.port, "/pods", await certOf(api, "erin"))).status).toBe(200);
    expect((await get(server.port, "/pods")).status).toBe(401);
  });
});
