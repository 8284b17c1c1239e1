import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { loadKubeConfig, parseKubeConfig } from "./kubeconfig.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const doc = (user: string) => `apiVersion: v1
kind: Config
current-context: main
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443/
    certificate-authority-data: ${b64("CA PEM")}
contexts:
- name: main
  context: {cluster: c, user: u, namespace: team}
- name: other
  context: {cluster: c, user: t}
users:
- name: u
  user:
${user}
- name: t
  user:
    token: abc
`;

describe("kubeconfig", () => {
  it("resolves inline data and the current context", () => {
    const c = parseKubeConfig(
      doc(`    client-certificate-data: ${b64("CERT")}\n    client-key-data: ${b64("KEY")}`),
    );
    expect(c).toMatchObject({
      server: "https://127.0.0.1:6443",
      caPem: "CA PEM",
      certPem: "CERT",
      keyPem: "KEY",
      namespace: "team",
      contextName: "main",
    });
  });

  it("reads relative files next to the kubeconfig and honours an explicit context", () => {
    const dir = mkdtempSync(join(tmpdir(), "kubeconfig-"));
    dirs.push(dir);
    writeFileSync(join(dir, "c.crt"), "CERT FILE");
    writeFileSync(join(dir, "c.key"), "KEY FILE");
    writeFileSync(join(dir, "config"), doc("    client-certificate: c.crt\n    client-key: c.key"));
    expect(loadKubeConfig({ path: join(dir, "config") })).toMatchObject({
      certPem: "CERT FILE",
      keyPem: "KEY FILE",
    });
    expect(loadKubeConfig({ path: join(dir, "config"), context: "other" }).token).toBe("abc");
    expect(loadKubeConfig({ env: { KUBECONFIG: `${join(dir, "config")}:/nope` } }).caPem).toBe("CA PEM");
  });

  it("explains what is wrong", () => {
    expect(() => parseKubeConfig(doc("    token: x"), { context: "missing" })).toThrow(
      /no context named "missing"/,
    );
    expect(() => parseKubeConfig(doc(`    client-certificate-data: ${b64("C")}`))).toThrow(/without a key/);
    expect(() => parseKubeConfig(doc("    exec: {command: aws}"))).toThrow(/exec/);
    expect(() => parseKubeConfig(": : :")).toThrow(/kubeconfig/);
    expect(() => loadKubeConfig({ inCluster: true, env: {} })).toThrow(/KUBERNETES_SERVICE_HOST/);
    expect(() => loadKubeConfig({ path: "/nonexistent/kubeconfig" })).toThrow(/cannot read kubeconfig/);
  });
});
