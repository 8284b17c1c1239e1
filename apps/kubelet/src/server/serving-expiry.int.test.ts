// With serverTLSBootstrap the :10250 server serves the certificate manager's pairs; once one
// expires with no successor it is withdrawn, not served (upstream's GetCertificate returns the
// manager's Current(), nil for an expired pair), and the next issued pair is served again.
import { generateKeyPairSync } from "node:crypto";
import { connect } from "node:tls";
import { createFakeClock, createLogger } from "@kubenode/kube";
import { createTestCa } from "@kubenode/testkit";
import { describe, expect, it } from "vitest";
import type { Pod } from "../api.js";
import { createCsrPem } from "../certificate/csr.js";
import type { ServingCertificateManager } from "../certificate/serving-certificate-manager.js";
import { parsePair, type StoredPair } from "../certificate/store.js";
import { defaultKubeletConfiguration } from "../config/configuration.js";
import type { PodRuntime } from "../runtime/types.js";
import { createServerModule } from "./index.js";

const T0 = Date.UTC(2026, 5, 1);
const HOUR = 3_600_000;
const ca = createTestCa();

function issue(fromMs: number, toMs: number): StoredPair {
  const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
  const csrPem = createCsrPem(
    { commonName: "system:node:n1", organizations: ["system:nodes"], ipAddresses: ["127.0.0.1"] },
    privateKey,
  );
  const certPem = ca.signCsr(csrPem, {
    notBefore: new Date(fromMs),
    notAfter: new Date(toMs),
    usage: "server",
  });
  return parsePair(`${certPem}\n${privateKey.export({ type: "sec1", format: "pem" })}`, "test");
}

/** The serial the server presents to a new connection, or the handshake's error. */
function handshake(port: number): Promise<string> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, rejectUnauthorized: false }, () => {
      resolve(socket.getPeerCertificate().serialNumber);
      socket.destroy();
    });
    socket.on("error", (err) => resolve(`error: ${err.message}`));
  });
}

describe("the kubelet server's certificate from serverTLSBootstrap", () => {
  it("stops serving a pair at its expiry and serves the next one issued", async () => {
    const clock = createFakeClock(T0);
    const lines: string[] = [];
    const logger = createLogger({ write: (line) => lines.push(line) });
    let pair = issue(T0, T0 + HOUR);
    let listener: ((p: StoredPair) => void) | undefined;
    const manager: ServingCertificateManager = {
      current: () => (clock.now() < pair.notAfterMs ? pair : undefined),
      onCertificate(l) {
        listener = l;
        return () => {
          listener = undefined;
        };
      },
      nextRotationMs: () => undefined,
      start() {},
      stop() {},
    };
    const config = defaultKubeletConfiguration();
    config.address = "127.0.0.1";
    config.port = 0;
    config.healthzPort = 0;
    config.authentication.webhook.enabled = false;
    config.authorization.mode = "AlwaysAllow";
    const server = await createServerModule({
      nodeName: "n1",
      config,
      rootDir: "/nonexistent",
      kubelet: { pods: (): Pod[] => [], runtime: {} as PodRuntime },
      nodeIPs: ["127.0.0.1"],
      servingCertificates: manager,
      podLogsDir: "/nonexistent",
      clock,
      logger,
    });
    await server.start();
    try {
      const first = await handshake(server.port);
      expect(first).toMatch(/^[0-9A-F]+$/);

      await clock.step(HOUR - 1);
      expect(await handshake(server.port)).toBe(first);
      await clock.step(1); // expired, and nothing new was issued
      expect(await handshake(server.port)).toMatch(/^error: /);
      expect(lines.join("\n")).toContain("The serving certificate expired and no new one has been issued");

      pair = issue(T0 + HOUR, T0 + 2 * HOUR);
      listener?.(pair);
      const next = await handshake(server.port);
      expect(next).toMatch(/^[0-9A-F]+$/);
      expect(next).not.toBe(first);
    } finally {
      await server.stop();
    }
    expect(clock.pendingTimers()).toBe(0);
  });
});
