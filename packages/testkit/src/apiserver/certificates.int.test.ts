import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "./server.js";
import { eventually, kubectl, raw, requireKubectl } from "./test-support.js";
import type { Json } from "./types.js";

const run = promisify(execFile);
const hasKubectl = await requireKubectl("the CertificateSigningRequest tests");
const hasOpenssl = await run("openssl", ["version"]).then(
  () => true,
  () => false,
);
if (!hasOpenssl && process.env.CI === "true")
  throw new Error(
    "openssl is required for the CertificateSigningRequest tests (it makes the CSRs) but was not found",
  );
const ready = hasKubectl && hasOpenssl;

let server: ApiServer;
let dir: string;

/** A PEM CSR (and its key file) made by openssl, as a kubelet or an admin would. */
async function makeCsr(
  name: string,
  subject: string,
  san?: string,
): Promise<{ pem: string; keyPath: string }> {
  const keyPath = join(dir, `${name}.key`);
  const csrPath = join(dir, `${name}.csr`);
  const args = ["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  args.push("-subj", subject, "-keyout", keyPath, "-out", csrPath);
  if (san) args.push("-addext", `subjectAltName=${san}`);
  await run("openssl", args);
  return { pem: await readFile(csrPath, "utf8"), keyPath };
}
const csrObject = (name: string, pem: string, signerName: string, usages: string[]): Json => ({
  apiVersion: "certificates.k8s.io/v1",
  kind: "CertificateSigningRequest",
  metadata: { name },
  spec: { request: Buffer.from(pem).toString("base64"), signerName, usages },
});
const getCsr = async (name: string): Promise<Json> =>
  (await raw(server, "GET", `/apis/certificates.k8s.io/v1/certificatesigningrequests/${name}`)).body;

beforeAll(async () => {
  server = await startApiServer({
    controllers: { scheduler: false, endpointSlices: false, nodeLifecycle: false },
  });
  dir = await mkdtemp(join(tmpdir(), "kubenode-csr-test-"));
});
afterAll(async () => {
  await server?.stop();
  if (dir) await rm(dir, { recursive: true, force: true });
});

describe.skipIf(!ready)("CertificateSigningRequests (kubelet TLS bootstrap)", () => {
  it("a bootstrap identity's node client CSR is auto-approved and signed; the certificate authenticates", async () => {
    const bootstrap = "system:bootstrap:abcdef";
    await server.kubeconfigFor(bootstrap, ["system:bootstrappers"]);
    const { pem, keyPath } = await makeCsr("n2-client", "/O=system:nodes/CN=system:node:n2");
    // Named as upstream's kubelet names them: a base64url digest, upper case included.
    const body = csrObject("node-csr-N2_Xy-0", pem, "kubernetes.io/kube-apiserver-client-kubelet", [
      "digital signature",
      "client auth",
    ]);
    const created = await raw(
      server,
      "POST",
      "/apis/certificates.k8s.io/v1/certificatesigningrequests",
      JSON.stringify(body),
      { "Content-Type": "application/json" },
      bootstrap,
    );
    expect(created.status).toBe(201);
    expect(created.body.spec).toMatchObject({
      username: bootstrap,
      groups: ["system:bootstrappers", "system:authenticated"],
    });
    const issued = await eventually(
      async () => {
        const c = await getCsr("node-csr-N2_Xy-0");
        return c.status?.certificate ? c : undefined;
      },
      20_000,
      "certificate issued",
    );
    expect(issued.status.conditions).toEqual([
      expect.objectContaining({
        type: "Approved",
        status: "True",
        reason: "AutoApproved",
        message: "Auto approving kubelet client certificate after SubjectAccessReview.",
      }),
    ]);
    const certPem = Buffer.from(issued.status.certificate, "base64").toString();
    const admin = JSON.parse(server.kubeconfigText("admin"));
    admin.users = [
      {
        name: "n2",
        user: {
          "client-certificate-data": Buffer.from(certPem).toString("base64"),
          "client-key-data": Buffer.from(await readFile(keyPath)).toString("base64"),
        },
      },
    ];
    admin.contexts[0].context.user = "n2";
    const kc = join(dir, "kubeconfig-n2");
    await writeFile(kc, JSON.stringify(admin), { mode: 0o600 });
    const who = JSON.parse((await kubectl(kc, ["auth", "whoami", "-o", "json"])).stdout);
    expect(who.status.userInfo).toEqual({
      username: "system:node:n2",
      groups: ["system:nodes", "system:authenticated"],
    });
  });

  it("bootstrap tokens from kube-system secrets authenticate as system:bootstrap:<id> and get node client CSRs approved", async () => {
    const b64 = (v: string) => Buffer.from(v).toString("base64");
    const secret = (id: string, tokenSecret: string, extra: Record<string, string> = {}) => ({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: `bootstrap-token-${id}`, namespace: "kube-system" },
      type: "bootstrap.kubernetes.io/token",
      data: {
        "token-id": b64(id),
        "token-secret": b64(tokenSecret),
        "usage-bootstrap-authentication": b64("true"),
        "auth-extra-groups": b64("system:bootstrappers:kubeadm:default-node-token"),
        ...Object.fromEntries(Object.entries(extra).map(([k, v]) => [k, b64(v)])),
      },
    });
    for (const s of [
      secret("k8s4rk", "0123456789abcdef"),
      secret("old000", "0123456789abcdef", { expiration: "2020-01-01T00:00:00Z" }),
    ])
      expect(
        (
          await raw(server, "POST", "/api/v1/namespaces/kube-system/secrets", JSON.stringify(s), {
            "Content-Type": "application/json",
          })
        ).status,
      ).toBe(201);
    const asToken = (token: string, method: string, path: string, body?: string) =>
      new Promise<{ status: number; body: Json }>((resolve, reject) => {
        const url = new URL(path, server.url);
        const req = httpsRequest(
          url,
          {
            method,
            ca: server.caPem,
            headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
          },
          (res) => {
            let text = "";
            res.on("data", (d: Buffer) => {
              text += d.toString();
            });
            res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(text) }));
          },
        );
        req.on("error", reject);
        req.end(body);
      });
    expect(
      (
        await asToken(
          "old000.0123456789abcdef",
          "GET",
          "/apis/certificates.k8s.io/v1/certificatesigningrequests",
        )
      ).status,
    ).toBe(401);
    expect(
      (
        await asToken(
          "k8s4rk.0123456789abcdeX",
          "GET",
          "/apis/certificates.k8s.io/v1/certificatesigningrequests",
        )
      ).status,
    ).toBe(401);
    const { pem } = await makeCsr("n4-client", "/O=system:nodes/CN=system:node:n4");
    const body = csrObject("node-csr-n4", pem, "kubernetes.io/kube-apiserver-client-kubelet", [
      "digital signature",
      "client auth",
    ]);
    const created = await asToken(
      "k8s4rk.0123456789abcdef",
      "POST",
      "/apis/certificates.k8s.io/v1/certificatesigningrequests",
      JSON.stringify(body),
    );
    expect(created.status).toBe(201);
    expect(created.body.spec).toMatchObject({
      username: "system:bootstrap:k8s4rk",
      groups: [
        "system:bootstrappers",
        "system:bootstrappers:kubeadm:default-node-token",
        "system:authenticated",
      ],
    });
    const issued = await eventually(
      async () => {
        const c = await getCsr("node-csr-n4");
        return c.status?.certificate ? c : undefined;
      },
      20_000,
      "certificate issued",
    );
    expect(issued.status.conditions[0]).toMatchObject({ type: "Approved", reason: "AutoApproved" });
    // The token may do nothing else.
    expect((await asToken("k8s4rk.0123456789abcdef", "GET", "/api/v1/nodes")).status).toBe(403);
  });

  it("a kubelet serving CSR waits for kubectl certificate approve, then is issued for its SANs", async () => {
    const { pem } = await makeCsr("n1-serving", "/O=system:nodes/CN=system:node:n1", "DNS:n1,IP:10.0.0.10");
    const kc = server.kubeconfigPath;
    const body = csrObject("n1-serving", pem, "kubernetes.io/kubelet-serving", [
      "digital signature",
      "key encipherment",
      "server auth",
    ]);
    expect((await kubectl(kc, ["create", "-f", "-"], JSON.stringify(body))).stdout).toBe(
      "certificatesigningrequest.certificates.k8s.io/n1-serving created\n",
    );
    expect((await kubectl(kc, ["get", "csr", "n1-serving"])).stdout).toMatch(
      /^NAME\s+AGE\s+SIGNERNAME\s+REQUESTOR\s+REQUESTEDDURATION\s+CONDITION\nn1-serving\s+\S+\s+kubernetes\.io\/kubelet-serving\s+admin\s+<none>\s+Pending\n$/,
    );
    expect((await kubectl(kc, ["certificate", "approve", "n1-serving"])).stdout).toBe(
      "certificatesigningrequest.certificates.k8s.io/n1-serving approved\n",
    );
    const issued = await eventually(
      async () => {
        const c = await getCsr("n1-serving");
        return c.status?.certificate ? c : undefined;
      },
      20_000,
      "certificate issued",
    );
    expect(issued.status.conditions[0]).toMatchObject({
      type: "Approved",
      reason: "KubectlApprove",
      message: "This CSR was approved by kubectl certificate approve.",
    });
    const certPath = join(dir, "n1-serving.crt");
    await writeFile(certPath, Buffer.from(issued.status.certificate, "base64"));
    const { stdout } = await run("openssl", [
      "x509",
      "-in",
      certPath,
      "-noout",
      "-subject",
      "-ext",
      "subjectAltName",
    ]);
    expect(stdout).toContain("subject=O = system:nodes, CN = system:node:n1");
    expect(stdout).toContain("DNS:n1, IP Address:10.0.0.10");
    expect((await kubectl(kc, ["get", "csr", "n1-serving"])).stdout).toMatch(/Approved,Issued/);
  });

  it("a serving CSR without SANs fails signing; a malformed request is 422", async () => {
    const { pem } = await makeCsr("n3-serving", "/O=system:nodes/CN=system:node:n3");
    const kc = server.kubeconfigPath;
    const body = csrObject("n3-serving", pem, "kubernetes.io/kubelet-serving", [
      "digital signature",
      "server auth",
    ]);
    await kubectl(kc, ["create", "-f", "-"], JSON.stringify(body));
    await kubectl(kc, ["certificate", "approve", "n3-serving"]);
    const failed = await eventually(
      async () => {
        const c = await getCsr("n3-serving");
        return (c.status?.conditions ?? []).find((x: Json) => x.type === "Failed");
      },
      20_000,
      "Failed condition",
    );
    expect(failed).toMatchObject({ status: "True", reason: "SignerValidationFailure" });
    const bad = await raw(
      server,
      "POST",
      "/apis/certificates.k8s.io/v1/certificatesigningrequests",
      JSON.stringify(csrObject("garbage", "not a csr", "kubernetes.io/kubelet-serving", ["server auth"])),
      { "Content-Type": "application/json" },
    );
    expect(bad.status).toBe(422);
    expect(bad.body.message).toContain("spec.request: Invalid value");
    expect(bad.body.message).toContain("PEM block type must be CERTIFICATE REQUEST");
  });
});
