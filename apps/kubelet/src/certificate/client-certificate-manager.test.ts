// Client certificate rotation against a stepped clock: when the CSR is filed (70-90% of the
// certificate's life, by the jitter), what is stored, which certificate the API client then uses,
// and the retry after a failed request. Certificates are signed by a real CA (testkit's), so
// validity comes from X.509 as in production.
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtemp, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeClock, createLogger, type KubeClient, type KubeConnection } from "@kubenode/kube";
import { createTestCa, waitFor } from "@kubenode/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createClientCertificateManager, rotationDeadlineMs } from "./client-certificate-manager.js";
import { createCsrPem } from "./csr.js";
import type { CertificateRequest } from "./request.js";
import { createCertificateStore } from "./store.js";

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const ca = createTestCa(3650);
const logger = createLogger({ write: () => {} });

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "kubenode-cert-rotation-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** A node client certificate valid from `fromMs` for `hours`, with its key. */
function issue(fromMs: number, hours: number): { certPem: string; keyPem: string } {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const csrPem = createCsrPem({ commonName: "system:node:n1", organizations: ["system:nodes"] }, privateKey);
  return {
    certPem: ca.signCsr(csrPem, { notBefore: new Date(fromMs), notAfter: new Date(fromMs + hours * HOUR) }),
    keyPem: privateKey.export({ type: "sec1", format: "pem" }).toString(),
  };
}

/** A stand-in API client: records the certificate it was made with. */
function fakeClient(connection: KubeConnection): KubeClient {
  return {
    connection,
    stats: { requests: 0, failures: 0 },
    request: async () => ({}) as never,
    watch: () => ({ [Symbol.asyncIterator]: async function* () {} }) as never,
    close: () => {},
  };
}

describe("rotationDeadlineMs", () => {
  it("is 70% of the lifetime at the smallest jitter and 90% at the largest, uniformly between", () => {
    const pair = { notBeforeMs: T0, notAfterMs: T0 + 100 * HOUR };
    expect(rotationDeadlineMs(pair, 0)).toBe(T0 + 70 * HOUR);
    expect(rotationDeadlineMs(pair, 0.5)).toBe(T0 + 80 * HOUR);
    const latest = rotationDeadlineMs(pair, 0.999_999);
    expect(latest).toBeLessThan(T0 + 90 * HOUR);
    expect(latest).toBeGreaterThan(T0 + 90 * HOUR - 1000);
  });
});

describe("client certificate rotation", () => {
  async function setup(opts: { failFirst?: number } = {}) {
    const clock = createFakeClock(T0);
    const store = createCertificateStore(dir, "kubelet-client");
    // The current pair, written through the store as the bootstrap does.
    const first = issue(T0, 100);
    await store.update(first.certPem, first.keyPem, T0 + 1000);
    const requests: { atMs: number; req: CertificateRequest; via: string }[] = [];
    let failures = opts.failFirst ?? 0;
    const manager = await createClientCertificateManager({
      nodeName: "n1",
      store,
      connection: { server: "https://127.0.0.1:6443" },
      createClient: fakeClient,
      random: () => 0.5,
      clock,
      logger,
      async requestCertificate(client, req) {
        requests.push({ atMs: clock.now(), req, via: client.connection.certPem ?? "" });
        if (failures > 0) {
          failures--;
          throw new Error("the API server is not answering");
        }
        const csr = req.csrPem;
        return ca.signCsr(csr, {
          notBefore: new Date(clock.now()),
          notAfter: new Date(clock.now() + 100 * HOUR),
        });
      },
    });
    return { clock, store, manager, requests, first };
  }

  it("files a CSR at the jittered deadline, not before; then uses and stores the new certificate", async () => {
    const { clock, store, manager, requests, first } = await setup();
    manager.start();
    try {
      expect(manager.nextRotationMs()).toBe(T0 + 80 * HOUR);
      expect(manager.client.connection.certPem).toBe(first.certPem);
      await clock.step(80 * HOUR - 1000);
      expect(requests).toEqual([]);
      await clock.step(1000);
      await waitUntil(() => manager.current().notBeforeMs === T0 + 80 * HOUR);
      expect(requests).toHaveLength(1);
      const [filed] = requests;
      expect(filed?.atMs).toBe(T0 + 80 * HOUR);
      // Filed with the current certificate (the node renews as itself: selfnodeclient).
      expect(filed?.via).toBe(first.certPem);
      expect(filed?.req).toMatchObject({
        signerName: "kubernetes.io/kube-apiserver-client-kubelet",
        usages: ["digital signature", "client auth"],
      });
      // API calls now use the new certificate, which is what kubelet-client-current.pem links to.
      const current = manager.current();
      expect(manager.client.connection.certPem).toBe(current.certPem);
      expect(new X509Certificate(current.certPem).subject).toBe("O=system:nodes\nCN=system:node:n1");
      expect((await store.current())?.certPem).toBe(current.certPem);
      expect(await readlink(store.currentPath)).toBe("kubelet-client-2026-01-04-08-00-00.pem");
      // The next deadline comes from the new certificate's lifetime.
      expect(manager.nextRotationMs()).toBe(T0 + 160 * HOUR);
    } finally {
      manager.stop();
    }
  });

  it("retries a failed request after 2 s, then 4 s, keeping the old certificate meanwhile", async () => {
    const { clock, manager, requests, first } = await setup({ failFirst: 2 });
    manager.start();
    try {
      await clock.step(80 * HOUR);
      await waitUntil(() => requests.length === 1 && manager.nextRotationMs() === T0 + 80 * HOUR + 2000);
      expect(manager.client.connection.certPem).toBe(first.certPem);
      await clock.step(2000);
      await waitUntil(() => requests.length === 2 && manager.nextRotationMs() === T0 + 80 * HOUR + 6000);
      await clock.step(4000);
      await waitUntil(() => manager.current().notBeforeMs === T0 + 80 * HOUR + 6000);
      expect(requests.map((r) => r.atMs - T0 - 80 * HOUR)).toEqual([0, 2000, 6000]);
    } finally {
      manager.stop();
    }
  });

  it("waits out a deadline beyond the longest timer (a one-year certificate) in hops", async () => {
    const clock = createFakeClock(T0);
    const store = createCertificateStore(dir, "kubelet-client");
    const year = issue(T0, 8760);
    await store.update(year.certPem, year.keyPem, T0);
    const filed: number[] = [];
    const manager = await createClientCertificateManager({
      nodeName: "n1",
      store,
      connection: { server: "https://127.0.0.1:6443" },
      createClient: fakeClient,
      random: () => 0,
      clock,
      logger,
      async requestCertificate(_client, req) {
        filed.push(clock.now());
        return ca.signCsr(req.csrPem, {
          notBefore: new Date(clock.now()),
          notAfter: new Date(clock.now() + 8760 * HOUR),
        });
      },
    });
    manager.start();
    try {
      expect(manager.nextRotationMs()).toBe(T0 + 0.7 * 8760 * HOUR);
      expect(clock.nextTimerInMs()).toBe(2 ** 31 - 1);
      await clock.step(0.7 * 8760 * HOUR - 1000);
      expect(filed).toEqual([]);
      await clock.step(1000);
      await waitUntil(() => manager.current().notBeforeMs === T0 + 0.7 * 8760 * HOUR);
      expect(filed).toEqual([T0 + 0.7 * 8760 * HOUR]);
    } finally {
      manager.stop();
    }
  });

  it("stop() cancels the pending rotation", async () => {
    const { clock, manager, requests } = await setup();
    manager.start();
    manager.stop();
    expect(manager.nextRotationMs()).toBeUndefined();
    await clock.step(100 * HOUR);
    expect(requests).toEqual([]);
    expect(clock.pendingTimers()).toBe(0);
  });
});

/** Lets promise and I/O callbacks (the store's file writes) run until `cond` holds; the fake clock stays put. */
const waitUntil = (cond: () => boolean) =>
  waitFor("the rotation to get there", () => (cond() ? true : undefined), {
    timeoutMs: 10_000,
    intervalMs: 5,
  });
