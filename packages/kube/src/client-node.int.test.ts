// fromClientNodeConfig against the API server simulator: client-node's own loader reads each
// kubeconfig file, and our client must then act as the identity that file names, whatever the
// credential kind (client certificate, bearer token, exec plugin).
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ApiServer, startApiServer } from "@kubenode/testkit";
import { KubeConfig } from "@kubernetes/client-node";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createKubeClient } from "./client.js";
import { fromClientNodeConfig } from "./client-node.js";
import { KubeError } from "./errors.js";

let server: ApiServer;
let dir: string;
beforeAll(async () => {
  server = await startApiServer({
    controllers: { scheduler: false, endpointSlices: false, nodeLifecycle: false },
  });
  dir = await mkdtemp(join(tmpdir(), "kubenode-kube-cn-"));
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

/** Who the API server says the connection is (SelfSubjectReview, what `kubectl auth whoami` asks). */
async function whoami(kc: KubeConfig): Promise<string> {
  const client = createKubeClient(await fromClientNodeConfig(kc));
  try {
    const review = await client.request<{ status: { userInfo: { username: string } } }>({
      method: "POST",
      path: "/apis/authentication.k8s.io/v1/selfsubjectreviews",
      body: { apiVersion: "authentication.k8s.io/v1", kind: "SelfSubjectReview" },
    });
    return review.status.userInfo.username;
  } finally {
    client.close();
  }
}

/** The admin kubeconfig with its user replaced. */
async function kubeconfigWithUser(name: string, user: Record<string, unknown>): Promise<string> {
  const kc = new KubeConfig();
  kc.loadFromFile(server.kubeconfigPath);
  const cluster = kc.getCurrentCluster()!;
  const text = JSON.stringify({
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "sim",
        cluster: {
          server: cluster.server,
          "certificate-authority-data": Buffer.from(server.caPem!).toString("base64"),
        },
      },
    ],
    users: [{ name, user }],
    contexts: [{ name, context: { cluster: "sim", user: name, namespace: "team-a" } }],
    "current-context": name,
  });
  const path = join(dir, `${name}.kubeconfig`);
  await writeFile(path, text);
  return path;
}

describe("fromClientNodeConfig", () => {
  it("takes a client certificate from client-node's KubeConfig", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(server.kubeconfigPath);
    expect(await whoami(kc)).toBe("admin");
  });

  it("takes a bearer token, and the context's namespace", async () => {
    const kc = new KubeConfig();
    kc.loadFromFile(await kubeconfigWithUser("jane", { token: server.tokenFor("jane") }));
    const connection = await fromClientNodeConfig(kc);
    expect(connection).toMatchObject({ namespace: "team-a", contextName: "jane" });
    expect(connection.certPem).toBeUndefined();
    expect(await whoami(kc)).toBe("jane");
  });

  it("runs an exec credential plugin through client-node and uses the token it prints", async () => {
    const plugin = join(dir, "credential-plugin.mjs");
    const credential = {
      apiVersion: "client.authentication.k8s.io/v1",
      kind: "ExecCredential",
      status: { token: server.tokenFor("system:node:node-x", ["system:nodes"]) },
    };
    await writeFile(
      plugin,
      `#!${process.execPath}\nprocess.stdout.write(${JSON.stringify(JSON.stringify(credential))});\n`,
    );
    await chmod(plugin, 0o755);
    const kc = new KubeConfig();
    kc.loadFromFile(
      await kubeconfigWithUser("exec-user", {
        exec: { apiVersion: "client.authentication.k8s.io/v1", command: plugin, interactiveMode: "Never" },
      }),
    );
    expect(await whoami(kc)).toBe("system:node:node-x");
  });

  it("names the failure when the plugin fails, and refuses basic auth", async () => {
    const broken = new KubeConfig();
    broken.loadFromFile(
      await kubeconfigWithUser("broken", {
        exec: {
          apiVersion: "client.authentication.k8s.io/v1",
          command: join(dir, "missing-plugin"),
          interactiveMode: "Never",
        },
      }),
    );
    const err = await fromClientNodeConfig(broken).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(KubeError);
    expect((err as KubeError).message).toContain("cannot resolve credentials");

    const basic = new KubeConfig();
    basic.loadFromFile(await kubeconfigWithUser("basic", { username: "u", password: "p" }));
    await expect(fromClientNodeConfig(basic)).rejects.toThrow(/basic auth/);
  });
});
