// Kubelet TLS bootstrap (upstream pkg/kubelet/certificate/bootstrap LoadClientCert): with
// --bootstrap-kubeconfig and no usable client certificate in --kubeconfig, request one with the
// bootstrap credentials, store it in --cert-dir and write --kubeconfig pointing at it.
import { createPrivateKey, generateKeyPairSync, type KeyObject, X509Certificate } from "node:crypto";
import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { dirname } from "node:path";
import {
  type Clock,
  type KubeClient,
  type KubeConnection,
  type Logger,
  loadKubeConfig,
} from "@kubenode/kube";
import { createCsrPem } from "./csr.js";
import { bootstrapCsrName, clientUsages, KUBELET_CLIENT_SIGNER, requestCertificate } from "./request.js";
import { createCertificateStore } from "./store.js";

/** The pair name of the kubelet's client certificate files (`kubelet-client-current.pem`). */
export const CLIENT_PAIR = "kubelet-client";

/** Options of {@link bootstrapClientCertificate}. */
export interface BootstrapOptions {
  nodeName: string;
  /** `--kubeconfig`: read if it exists; written when a certificate is issued. */
  kubeconfigPath: string;
  /** `--bootstrap-kubeconfig`: the credentials that may only request a certificate. */
  bootstrapKubeconfigPath: string;
  /** `--cert-dir`. */
  certDir: string;
  createClient: (connection: KubeConnection) => KubeClient;
  /** How long to wait for approval and issuance; upstream's bootstrap waits one hour. */
  timeoutMs?: number;
  clock: Clock;
  logger: Logger;
  signal?: AbortSignal;
}

const validAt = (certPem: string | undefined, nowMs: number): boolean => {
  if (!certPem) return false;
  try {
    const cert = new X509Certificate(certPem);
    return Date.parse(cert.validFrom) <= nowMs && nowMs < Date.parse(cert.validTo);
  } catch {
    return false;
  }
};

/**
 * Makes sure `kubeconfigPath` holds a valid client certificate, bootstrapping one if needed:
 * 1. a kubeconfig whose client certificate is valid now is used as it is;
 * 2. else a valid `kubelet-client-current.pem` in the cert dir gets a kubeconfig written for it;
 * 3. else a CSR for `system:node:<name>` (O=system:nodes, signer
 *    kubernetes.io/kube-apiserver-client-kubelet) is filed with the bootstrap credentials, and once
 *    approved and issued the pair is stored and the kubeconfig written.
 * The key of a pending request is kept in `kubelet-client.key.tmp`, so a kubelet restarted while
 * waiting finds the same CSR again (its name is a digest of the key) instead of filing another.
 */
export async function bootstrapClientCertificate(o: BootstrapOptions): Promise<void> {
  const log = o.logger;
  let existing: KubeConnection | undefined;
  try {
    existing = loadKubeConfig({ path: o.kubeconfigPath });
  } catch {
    // missing or unusable: bootstrap
  }
  if (existing && validAt(existing.certPem, o.clock.now())) {
    log.info("Kubeconfig has a valid client certificate, not bootstrapping", { path: o.kubeconfigPath });
    return;
  }
  let bootstrap: KubeConnection;
  try {
    bootstrap = loadKubeConfig({ path: o.bootstrapKubeconfigPath });
  } catch (err) {
    throw new Error(
      `unable to load bootstrap kubeconfig ${o.bootstrapKubeconfigPath}: ${(err as Error).message}`,
      { cause: err },
    );
  }
  const store = createCertificateStore(o.certDir, CLIENT_PAIR);
  const current = await store.current().catch(() => undefined);
  if (current && current.notBeforeMs <= o.clock.now() && o.clock.now() < current.notAfterMs) {
    log.info("Current client certificate is still valid, writing a kubeconfig for it", {
      path: store.currentPath,
    });
    await writeKubeconfig(o.kubeconfigPath, bootstrap, store.currentPath);
    return;
  }
  log.info("Using bootstrap kubeconfig to generate TLS client cert, key and kubeconfig file", {
    bootstrapKubeconfig: o.bootstrapKubeconfigPath,
  });
  const keyFile = `${o.certDir}/${CLIENT_PAIR}.key.tmp`;
  const key = await loadOrGenerateKey(keyFile);
  const subject = { commonName: `system:node:${o.nodeName}`, organizations: ["system:nodes"] };
  const usages = clientUsages(key);
  const name = bootstrapCsrName(key, subject.commonName, subject.organizations, usages);
  const client = o.createClient(bootstrap);
  let certPem: string;
  try {
    log.info("Requesting a client certificate", { csr: name, signerName: KUBELET_CLIENT_SIGNER });
    certPem = await requestCertificate(client, {
      csrPem: createCsrPem(subject, key),
      signerName: KUBELET_CLIENT_SIGNER,
      usages,
      name,
      timeoutMs: o.timeoutMs ?? 3_600_000,
      clock: o.clock,
      ...(o.signal ? { signal: o.signal } : {}),
    });
  } finally {
    client.close();
  }
  const keyPem = key.export({ type: "sec1", format: "pem" }).toString();
  const pair = await store.update(certPem, keyPem, o.clock.now());
  await rm(keyFile, { force: true });
  await writeKubeconfig(o.kubeconfigPath, bootstrap, store.currentPath);
  log.info("Client certificate issued", {
    subject: pair.subject.replace(/\n/g, ", "),
    notAfter: new Date(pair.notAfterMs).toISOString(),
    kubeconfig: o.kubeconfigPath,
  });
}

async function loadOrGenerateKey(file: string): Promise<KeyObject> {
  try {
    return createPrivateKey(await readFile(file, "utf8"));
  } catch {
    // none yet (or unreadable): a fresh one
  }
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  await writeFile(file, privateKey.export({ type: "sec1", format: "pem" }), { mode: 0o600 });
  return privateKey;
}

/**
 * The kubeconfig upstream's bootstrap writes: the bootstrap kubeconfig's server and CA, and a user
 * whose certificate and key are both the cert dir's `kubelet-client-current.pem` (so rotation
 * needs no rewrite). Written to a temporary file and renamed, so a reader never sees half of it.
 */
async function writeKubeconfig(path: string, bootstrap: KubeConnection, pemPath: string): Promise<void> {
  const config = {
    apiVersion: "v1",
    kind: "Config",
    clusters: [
      {
        name: "default-cluster",
        cluster: {
          server: bootstrap.server,
          ...(bootstrap.caPem
            ? { "certificate-authority-data": Buffer.from(bootstrap.caPem).toString("base64") }
            : {}),
          ...(bootstrap.skipTLSVerify ? { "insecure-skip-tls-verify": true } : {}),
          ...(bootstrap.tlsServerName ? { "tls-server-name": bootstrap.tlsServerName } : {}),
        },
      },
    ],
    contexts: [
      {
        name: "default-context",
        context: { cluster: "default-cluster", user: "default-auth", namespace: "default" },
      },
    ],
    "current-context": "default-context",
    users: [{ name: "default-auth", user: { "client-certificate": pemPath, "client-key": pemPath } }],
  };
  await mkdir(dirname(path), { recursive: true });
  const tmp = `${path}.tmp`;
  await writeFile(tmp, `${JSON.stringify(config, null, 2)}\n`, { mode: 0o600 });
  await rename(tmp, path);
}
