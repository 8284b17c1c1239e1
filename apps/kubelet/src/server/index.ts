// The :10250 server module: builds the serving certificate, authentication, authorization and the
// server from the kubelet's configuration. main.ts starts it after the kubelet.
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import type { CriClient } from "@kubenode/cri-client";
import type { Clock, KubeClient, Logger } from "@kubenode/kube";
import type { ServingCertificateManager } from "../certificate/serving-certificate-manager.js";
import type { StoredPair } from "../certificate/store.js";
import { runAt } from "../certificate/timer.js";
import type { KubeletConfiguration } from "../config/configuration.js";
import { durationMs } from "../config/validation.js";
import { createKubeletAuth } from "./auth.js";
import type { KubeletMetrics } from "./metrics.js";
import { createKubeletServer, type ExtraHandler, type KubeletServer, type ServerKubelet } from "./server.js";
import { loadServingCert } from "./serving-cert.js";
import { createStatsProvider } from "./stats.js";

export {
  type AuthenticationOptions,
  type AuthorizationOptions,
  createKubeletAuth,
  forbiddenMessage,
  type KubeletAuth,
  type KubeletAuthOptions,
  type NodeRequestAttributes,
  nodeRequestAttributes,
  type UserInfo,
} from "./auth.js";
export { createKubeletMetrics, type KubeletMetrics } from "./metrics.js";
export {
  createKubeletServer,
  type ExtraHandler,
  type KubeletServer,
  type KubeletServerOptions,
  type ServerKubelet,
} from "./server.js";
export { loadServingCert, type ServingCert, type ServingCertOptions } from "./serving-cert.js";
export { createStatsProvider, type StatsProviderOptions, type Summary } from "./stats.js";

export interface ServerModuleOptions {
  nodeName: string;
  config: KubeletConfiguration;
  /** Kubelet state directory: the self-signed certificate goes to `<rootDir>/pki`. */
  rootDir: string;
  kubelet: ServerKubelet;
  cri?: CriClient;
  /** The node's API client (TokenReview, SubjectAccessReview). */
  client?: KubeClient;
  nodeIPs: readonly string[];
  /**
   * With serverTLSBootstrap: the certificates issued by the cluster, served as they come (none until
   * the first is issued) instead of tlsCertFile or a self-signed one.
   */
  servingCertificates?: ServingCertificateManager;
  /** The kubelet's metrics for /metrics. */
  metrics?: KubeletMetrics;
  /** Container log root, for /stats/summary's logs usage. */
  podLogsDir: string;
  clock: Clock;
  logger: Logger;
}

const PROMETHEUS_TEXT = "text/plain; version=0.0.4; charset=utf-8";

/**
 * /metrics, /metrics/probes, /metrics/resource and /stats/summary; `stop` ends the stats
 * housekeeping (with the server).
 */
export function metricsHandlers(o: {
  nodeName: string;
  kubelet: ServerKubelet;
  cri?: CriClient;
  metrics?: KubeletMetrics;
  rootDir: string;
  podLogsDir: string;
  clock: Clock;
}): { handlers: Record<string, ExtraHandler>; stop(): void } {
  const handlers: Record<string, ExtraHandler> = {};
  const text = (res: Parameters<ExtraHandler>[1], body: string) => {
    res.writeHead(200, { "Content-Type": PROMETHEUS_TEXT, "Content-Length": Buffer.byteLength(body) });
    res.end(body);
  };
  if (o.metrics) {
    const registry = o.metrics.registry;
    handlers["/metrics"] = (_req, res) => text(res, registry.render());
    const probes = o.metrics.probes.registry;
    handlers["/metrics/probes"] = (_req, res) => text(res, probes.render());
  }
  const stats = o.cri
    ? createStatsProvider({
        nodeName: o.nodeName,
        cri: o.cri,
        pods: () => o.kubelet.pods(),
        rootDir: o.rootDir,
        podLogsDir: o.podLogsDir,
        clock: o.clock,
      })
    : undefined;
  if (stats) {
    handlers["/metrics/resource"] = async (_req, res) => text(res, await stats.resourceMetrics());
    handlers["/stats/summary"] = async (_req, res) => {
      const body = JSON.stringify(await stats.summary(), null, 2);
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
      res.end(body);
    };
  }
  return { handlers, stop: () => stats?.stop() };
}

/** Builds the kubelet's API server from its configuration (not started). */
export async function createServerModule(o: ServerModuleOptions): Promise<KubeletServer> {
  const c = o.config;
  const clientCAFile = c.authentication.x509.clientCAFile;
  let clientCAPem: string | undefined;
  if (clientCAFile) {
    try {
      clientCAPem = await readFile(clientCAFile, "utf8");
    } catch (err) {
      throw new Error(`unable to load client CA file ${clientCAFile}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  const issued = o.servingCertificates?.current();
  const tls = o.servingCertificates
    ? issued
    : await loadServingCert({
        ...(c.tlsCertFile ? { certFile: c.tlsCertFile, keyFile: c.tlsPrivateKeyFile } : {}),
        certDir: join(o.rootDir, "pki"),
        hostname: o.nodeName,
        ips: o.nodeIPs,
        logger: o.logger,
      });
  const webhook = c.authentication.webhook.enabled && o.client !== undefined;
  if (c.authentication.webhook.enabled && !o.client)
    o.logger.warn("No API client (standalone): bearer tokens cannot be checked and are refused");
  const mode = c.authorization.mode as "Webhook" | "AlwaysAllow";
  if (mode === "Webhook" && !o.client)
    o.logger.warn("No API client (standalone): authorization mode Webhook denies every request");
  const auth = createKubeletAuth({
    nodeName: o.nodeName,
    ...(o.client ? { client: o.client } : {}),
    authentication: {
      ...(clientCAPem ? { clientCAPem } : {}),
      webhook,
      webhookCacheTtlMs: durationMs(c.authentication.webhook.cacheTTL),
      anonymous: c.authentication.anonymous.enabled,
    },
    authorization: {
      mode,
      cacheAuthorizedTtlMs: durationMs(c.authorization.webhook.cacheAuthorizedTTL),
      cacheUnauthorizedTtlMs: durationMs(c.authorization.webhook.cacheUnauthorizedTTL),
    },
    clock: o.clock,
  });
  const metrics = metricsHandlers(o);
  const server = createKubeletServer({
    kubelet: o.kubelet,
    ...(o.cri ? { cri: o.cri } : {}),
    auth,
    tls: tls && { certPem: tls.certPem, keyPem: tls.keyPem },
    ...(clientCAPem ? { clientCAPem } : {}),
    address: c.address,
    port: c.port,
    healthzBindAddress: c.healthzBindAddress,
    healthzPort: c.healthzPort === 0 ? null : c.healthzPort,
    configz: () => c,
    handlers: metrics.handlers,
    clock: o.clock,
    logger: o.logger,
  });
  // Each issued certificate is swapped into the running server (upstream reads the manager's
  // current certificate in tls.Config.GetCertificate on every handshake). Its Current() is nil
  // once the pair has expired, so an expired pair is withdrawn rather than served: handshakes fail
  // until a new one is issued.
  let cancelExpiry = () => {};
  const withdrawAtExpiry = (pair: StoredPair) => {
    cancelExpiry();
    cancelExpiry = runAt(o.clock, pair.notAfterMs, () => {
      o.logger.error("The serving certificate expired and no new one has been issued", undefined, {
        expiration: new Date(pair.notAfterMs).toISOString(),
      });
      server.setCertificate(undefined);
    });
  };
  if (issued) withdrawAtExpiry(issued);
  const unsubscribe =
    o.servingCertificates?.onCertificate((pair) => {
      server.setCertificate(pair);
      withdrawAtExpiry(pair);
    }) ?? (() => {});
  return {
    get port() {
      return server.port;
    },
    get healthzPort() {
      return server.healthzPort;
    },
    start: () => server.start(),
    setCertificate: (pair) => server.setCertificate(pair),
    async stop() {
      unsubscribe();
      cancelExpiry();
      metrics.stop();
      await server.stop();
    },
  };
}
