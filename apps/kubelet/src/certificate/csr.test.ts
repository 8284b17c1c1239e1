// The hand-built PKCS#10 requests, read back by OpenSSL and by the simulator's CSR parser (through
// testkit's CA), and the bootstrap CSR name.
import { execFile } from "node:child_process";
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { promisify } from "node:util";
import { createTestCa } from "@kubenode/testkit";
import { describe, expect, it } from "vitest";
import { createCsrPem } from "./csr.js";
import { bootstrapCsrName, clientUsages } from "./request.js";

const run = promisify(execFile);
const ec = () => generateKeyPairSync("ec", { namedCurve: "prime256v1" }).privateKey;

/** `openssl req -verify -text` on a PEM request: resolves with its text form (rejects on a bad signature). */
async function openssl(pem: string): Promise<string> {
  const child = run("openssl", ["req", "-verify", "-noout", "-text"]);
  child.child.stdin?.end(pem);
  const { stdout, stderr } = await child;
  return `${stdout}${stderr}`;
}

const hasOpenssl = await run("openssl", ["version"]).then(
  () => true,
  () => false,
);
if (!hasOpenssl && process.env.CI === "true") throw new Error("openssl is required by the CSR tests");

describe("createCsrPem", () => {
  it.runIf(hasOpenssl)("writes a node client request OpenSSL verifies, subject O then CN", async () => {
    const pem = createCsrPem({ commonName: "system:node:n1", organizations: ["system:nodes"] }, ec());
    expect(pem).toMatch(
      /^-----BEGIN CERTIFICATE REQUEST-----\n[A-Za-z0-9+/=\n]+-----END CERTIFICATE REQUEST-----\n$/,
    );
    const text = await openssl(pem);
    expect(text).toContain("verify OK");
    expect(text).toMatch(/Subject: O\s?=\s?system:nodes, CN\s?=\s?system:node:n1/);
    expect(text).toContain("ecdsa-with-SHA256");
    expect(text).not.toContain("Subject Alternative Name");
  });

  it.runIf(hasOpenssl)(
    "carries DNS and IPv4/IPv6 subjectAltNames for serving requests; RSA keys sign with SHA-256",
    async () => {
      const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
      const pem = createCsrPem(
        {
          commonName: "system:node:n1",
          organizations: ["system:nodes"],
          dnsNames: ["n1"],
          ipAddresses: ["10.0.0.10", "fd77::a"],
        },
        rsa,
      );
      const text = await openssl(pem);
      expect(text).toContain("verify OK");
      expect(text).toContain("sha256WithRSAEncryption");
      expect(text).toMatch(/DNS:n1, IP Address:10\.0\.0\.10, IP Address:FD77:0:0:0:0:0:0:A/);
    },
  );

  it("is accepted by the simulator's CSR parser: a certificate signed for it has the requested subject", () => {
    const ca = createTestCa();
    const key = ec();
    const pem = createCsrPem({ commonName: "system:node:n2", organizations: ["system:nodes"] }, key);
    const cert = new X509Certificate(
      ca.signCsr(pem, {
        notBefore: new Date(Date.now() - 60_000),
        notAfter: new Date(Date.now() + 3_600_000),
      }),
    );
    expect(cert.subject).toBe("O=system:nodes\nCN=system:node:n2");
    expect(cert.checkPrivateKey(key)).toBe(true);
  });

  it("refuses an IP address that is not one", () => {
    expect(() =>
      createCsrPem({ commonName: "x", organizations: [], ipAddresses: ["10.0.0.300"] }, ec()),
    ).toThrow('certificate request: "10.0.0.300" is not an IP address');
  });
});

describe("bootstrapCsrName", () => {
  it("is node-csr-<43 base64url characters>, the same for the same key and different for another", () => {
    const key = ec();
    const usages = clientUsages(key);
    expect(usages).toEqual(["digital signature", "client auth"]);
    const name = bootstrapCsrName(key, "system:node:n1", ["system:nodes"], usages);
    expect(name).toMatch(/^node-csr-[A-Za-z0-9_-]{43}$/);
    expect(bootstrapCsrName(key, "system:node:n1", ["system:nodes"], usages)).toBe(name);
    expect(bootstrapCsrName(ec(), "system:node:n1", ["system:nodes"], usages)).not.toBe(name);
    expect(bootstrapCsrName(key, "system:node:n2", ["system:nodes"], usages)).not.toBe(name);
  });

  it("adds key encipherment to the usages of RSA keys only", () => {
    const rsa = generateKeyPairSync("rsa", { modulusLength: 2048 }).privateKey;
    expect(clientUsages(rsa)).toEqual(["digital signature", "key encipherment", "client auth"]);
  });
});
