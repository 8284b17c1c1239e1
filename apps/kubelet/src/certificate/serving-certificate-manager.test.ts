// Serving certificate requests and rotation against a stepped clock, with certificates signed by a
// real CA (testkit's): what the CSR asks for, when it is filed, what is stored and announced.
import { generateKeyPairSync, X509Certificate } from "node:crypto";
import { mkdtemp, readlink, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createFakeClock, createLogger, type KubeClient } from "@kubenode/kube";
import type { NodeAddress } from "@kubenode/node-status";
import { createTestCa, waitFor } from "@kubenode/testkit";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createCsrPem } from "./csr.js";
import type { CertificateRequest } from "./request.js";
import {
  createServingCertificateManager,
  SERVER_PAIR,
  servingTemplate,
  templateMismatch,
} from "./serving-certificate-manager.js";
import { createCertificateStore, type StoredPair } from "./store.js";

const HOUR = 3_600_000;
const T0 = Date.UTC(2026, 0, 1);
const ca = createTestCa(3650);
const logger = createLogger({ write: () => {} });
const client = {} as KubeClient;
let dir: string;

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "kubenode-serving-cert-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Subject and SANs of a CSR, as a CA copies them into the certificate it issues. */
function requested(csrPem: string | undefined): { subject: string; sans: string | undefined } {
  const cert = new X509Certificate(
    ca.signCsr(csrPem ?? "", { notBefore: new Date(T0), notAfter: new Date(T0 + HOUR), usage: "server" }),
  );
  return { subject: cert.subject, sans: cert.subjectAltName };
}

/** Waits (real time: key generation and file writes run off the fake clock) until `cond` holds. */
async function waitUntil(cond: () => boolean): Promise<void> {
  await waitFor("the manager to get there", () => cond() || undefined, { timeoutMs: 20_000, intervalMs: 2 });
}

describe("servingTemplate", () => {
  it("names the hostname and DNS addresses as DNS names and the IPs as IPs, once each, sorted", () => {
    const addresses: NodeAddress[] = [
      { type: "InternalIP", address: "10.0.0.2" },
      { type: "ExternalIP", address: "192.0.2.7" },
      { type: "InternalIP", address: "10.0.0.2" },
      { type: "Hostname", address: "node-b" },
      { type: "InternalDNS", address: "node-b.cluster.internal" },
      { type: "ExternalDNS", address: "a.example.com" },
    ];
    expect(servingTemplate("node-b", addresses)).toEqual({
      commonName: "system:node:node-b",
      organizations: ["system:nodes"],
      dnsNames: ["a.example.com", "node-b", "node-b.cluster.internal"],
      ipAddresses: ["10.0.0.2", "192.0.2.7"],
    });
  });

  it("counts a Hostname that is an IP as an IP, and asks for nothing without any IP", () => {
    expect(servingTemplate("n", [{ type: "Hostname", address: "10.1.2.3" }])).toMatchObject({
      dnsNames: [],
      ipAddresses: ["10.1.2.3"],
    });
    expect(servingTemplate("n", [{ type: "Hostname", address: "n" }])).toBeUndefined();
  });
});

describe("serving certificate manager", () => {
  const addresses: NodeAddress[] = [
    { type: "InternalIP", address: "127.0.0.1" },
    { type: "Hostname", address: "n1" },
  ];

  /** When set, what the node's addresses are now (else setup's list). */
  let addressesOverride: (() => NodeAddress[]) | undefined;

  async function setup(
    opts: {
      addresses?: NodeAddress[][];
      initial?: { certPem: string; keyPem: string };
      failFirst?: number;
    } = {},
  ) {
    let failures = opts.failFirst ?? 0;
    let renewErrors = 0;
    const clock = createFakeClock(T0);
    const store = createCertificateStore(dir, SERVER_PAIR);
    const requests: { atMs: number; req: CertificateRequest }[] = [];
    const seen = opts.addresses ?? [addresses];
    let lookups = 0;
    const manager = await createServingCertificateManager({
      nodeName: "n1",
      store,
      client,
      addresses: async () => addressesOverride?.() ?? seen[Math.min(lookups++, seen.length - 1)] ?? [],
      ...(opts.initial ? { initial: opts.initial } : {}),
      onRenewError: () => renewErrors++,
      random: () => 0.5,
      clock,
      logger,
      async requestCertificate(_client, req) {
        requests.push({ atMs: clock.now(), req });
        if (failures > 0) {
          failures--;
          throw new Error("certificate signing request csr-x is denied");
        }
        return ca.signCsr(req.csrPem, {
          notBefore: new Date(clock.now()),
          notAfter: new Date(clock.now() + 100 * HOUR),
          usage: "server",
        });
      },
    });
    const announced: StoredPair[] = [];
    manager.onCertificate((p) => announced.push(p));
    /** Starts the manager and fires its first (immediate) timer. */
    const start = async () => {
      manager.start();
      await waitUntil(() => clock.pendingTimers() === 1);
      await clock.step(0);
    };
    return { clock, store, manager, requests, announced, start, renewErrors: () => renewErrors };
  }

  it("with no certificate files a kubelet-serving CSR at once, stores and announces the issued pair", async () => {
    const { clock, store, manager, requests, announced, start } = await setup();
    expect(manager.current()).toBeUndefined();
    await start();
    try {
      await waitUntil(() => announced.length === 1);
      const [filed] = requests;
      expect(filed?.atMs).toBe(T0);
      expect(filed?.req).toMatchObject({
        signerName: "kubernetes.io/kubelet-serving",
        usages: ["digital signature", "server auth"],
      });
      expect(filed?.req.name).toBeUndefined(); // generateName csr-, like client-go
      expect(requested(filed?.req.csrPem)).toEqual({
        subject: "O=system:nodes\nCN=system:node:n1",
        sans: "DNS:n1, IP Address:127.0.0.1",
      });
      const current = manager.current();
      expect(current).toBe(announced[0]);
      const leaf = new X509Certificate(current?.certPem ?? "");
      expect(leaf.subjectAltName).toBe("DNS:n1, IP Address:127.0.0.1");
      expect(await readlink(store.currentPath)).toBe("kubelet-server-2026-01-01-00-00-00.pem");
      // Renewed at the jittered 70-90% point (here 80%) of the issued certificate's life.
      expect(manager.nextRotationMs()).toBe(T0 + 80 * HOUR);
      await clock.step(80 * HOUR - 1000);
      expect(requests).toHaveLength(1);
      await clock.step(1000);
      await waitUntil(() => announced.length === 2);
      expect(requests[1]?.atMs).toBe(T0 + 80 * HOUR);
      expect(manager.current()?.notBeforeMs).toBe(T0 + 80 * HOUR);
      expect(new X509Certificate(manager.current()?.certPem ?? "").serialNumber).not.toBe(leaf.serialNumber);
    } finally {
      manager.stop();
    }
  });

  it("between rotations, replaces a certificate within 10 s of the node's addresses changing", async () => {
    const { clock, manager, requests, announced, start } = await setup();
    await start();
    try {
      await waitUntil(() => announced.length === 1);
      await clock.step(HOUR);
      expect(requests).toHaveLength(1); // same addresses: nothing to do before the deadline
      addressesOverride = () => [
        { type: "InternalIP", address: "10.1.2.3" },
        { type: "Hostname", address: "n1" },
      ];
      await clock.step(10_000);
      await waitUntil(() => announced.length === 2);
      expect(requests[1]?.atMs).toBe(T0 + HOUR + 10_000);
      expect(requested(requests[1]?.req.csrPem).sans).toBe("DNS:n1, IP Address:10.1.2.3");
      expect(manager.nextRotationMs()).toBe(T0 + HOUR + 10_000 + 80 * HOUR);
    } finally {
      addressesOverride = undefined;
      manager.stop();
    }
  });

  it("requests nothing until the node has an IP address, then asks for it", async () => {
    const { clock, manager, requests, announced, start } = await setup({
      addresses: [
        [{ type: "Hostname", address: "n1" }],
        [{ type: "Hostname", address: "n1" }],
        [{ type: "Hostname", address: "n1" }],
        addresses,
      ],
    });
    await start();
    try {
      expect(requests).toEqual([]);
      await clock.step(1000);
      expect(requests).toEqual([]);
      await clock.step(1000);
      await waitUntil(() => announced.length === 1);
      expect(requested(requests[0]?.req.csrPem).sans).toBe("DNS:n1, IP Address:127.0.0.1");
    } finally {
      manager.stop();
    }
  });

  it("reuses a stored valid pair that names the node's addresses; replaces one that does not", async () => {
    const first = await setup();
    await first.start();
    await waitUntil(() => first.announced.length === 1);
    first.manager.stop();
    // Restarted: the stored pair is served and nothing is requested before its deadline.
    const again = await setup();
    expect(again.manager.current()?.certPem).toBe(first.manager.current()?.certPem);
    again.manager.start();
    await waitUntil(() => again.manager.nextRotationMs() !== undefined);
    expect(again.manager.nextRotationMs()).toBe(T0 + 80 * HOUR);
    again.manager.stop();
    // The node's IP changed: the stored certificate no longer names it, so a new one is requested now.
    const moved = await setup({ addresses: [[{ type: "InternalIP", address: "10.9.9.9" }]] });
    await moved.start();
    try {
      await waitUntil(() => moved.announced.length === 1);
      expect(requested(moved.requests[0]?.req.csrPem).sans).toBe("IP Address:10.9.9.9");
    } finally {
      moved.manager.stop();
    }
  });

  it("starts from tlsCertFile when nothing is stored, renewing it at its deadline like an issued one", async () => {
    const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
    const csrPem = createCsrPem(
      {
        commonName: "system:node:n1",
        organizations: ["system:nodes"],
        dnsNames: ["n1"],
        ipAddresses: ["127.0.0.1"],
      },
      privateKey,
    );
    const certPem = ca.signCsr(csrPem, {
      notBefore: new Date(T0),
      notAfter: new Date(T0 + 10 * HOUR),
      usage: "server",
    });
    const keyPem = privateKey.export({ type: "sec1", format: "pem" }).toString();
    const { clock, manager, requests, announced, start } = await setup({ initial: { certPem, keyPem } });
    expect(manager.current()?.certPem).toBe(certPem);
    await start();
    try {
      expect(requests).toEqual([]);
      expect(manager.nextRotationMs()).toBe(T0 + 8 * HOUR);
      await clock.step(8 * HOUR);
      await waitUntil(() => announced.length === 1);
      expect(requests[0]?.atMs).toBe(T0 + 8 * HOUR);
    } finally {
      manager.stop();
    }
  });

  it("counts a failed request and files a new one after 2 s, then 4 s", async () => {
    const { clock, manager, requests, announced, start, renewErrors } = await setup({ failFirst: 2 });
    await start();
    try {
      await waitUntil(() => renewErrors() === 1 && manager.nextRotationMs() === T0 + 2000);
      expect(manager.current()).toBeUndefined();
      await clock.step(2000);
      await waitUntil(() => renewErrors() === 2 && manager.nextRotationMs() === T0 + 6000);
      await clock.step(4000);
      await waitUntil(() => announced.length === 1);
      expect(requests.map((r) => r.atMs - T0)).toEqual([0, 2000, 6000]);
    } finally {
      manager.stop();
    }
  });

  it("without an API client (standalone) requests nothing and serves what is stored", async () => {
    const first = await setup();
    await first.start();
    await waitUntil(() => first.announced.length === 1);
    first.manager.stop();
    const clock = createFakeClock(T0);
    const standalone = await createServingCertificateManager({
      nodeName: "n1",
      store: createCertificateStore(dir, SERVER_PAIR),
      addresses: async () => addresses,
      clock,
      logger,
    });
    standalone.start();
    expect(standalone.current()?.certPem).toBe(first.manager.current()?.certPem);
    expect(standalone.nextRotationMs()).toBeUndefined();
    expect(clock.pendingTimers()).toBe(0);
    standalone.stop();
  });

  it("templateMismatch names what the certificate lacks", async () => {
    const { manager, announced, start } = await setup();
    await start();
    await waitUntil(() => announced.length === 1);
    manager.stop();
    const pair = announced[0] as StoredPair;
    const base = servingTemplate("n1", addresses);
    if (!base) throw new Error("no template");
    expect(templateMismatch(pair, base)).toBeUndefined();
    expect(templateMismatch(pair, { ...base, ipAddresses: ["127.0.0.1", "10.0.0.5"] })).toBe(
      "certificate is missing requested IP addresses [10.0.0.5]",
    );
    expect(templateMismatch(pair, { ...base, commonName: "system:node:other" })).toBe(
      "certificate CN (system:node:n1) does not match requested CN (system:node:other)",
    );
  });
});
