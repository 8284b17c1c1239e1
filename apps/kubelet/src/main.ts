#!/usr/bin/env -S node --max-semi-space-size=2
// kubenode-kubelet: the binary. Parses flags and the config file, builds the logger, the CRI and
// API clients, the kubelet (createKubelet) and its node module, and stops them cleanly on
// SIGTERM/SIGINT. Exits 0 after --help/--version or a clean stop, 1 on any error, printing it as
// upstream's kubelet does (`"command failed" err="..."`).
import { mkdir, readFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { type CriClient, createCriClient } from "@kubenode/cri-client";
import {
  type Clock,
  createKubeClient,
  createLogger,
  createRealClock,
  type KubeClient,
  type KubeConnection,
  type LogFormat,
  type Logger,
  loadKubeConfig,
} from "@kubenode/kube";
import { createHostAddressProvider } from "@kubenode/node-status";
import { bootstrapClientCertificate, CLIENT_PAIR } from "./certificate/bootstrap.js";
import { createClientCertificateManager } from "./certificate/client-certificate-manager.js";
import {
  createServingCertificateManager,
  SERVER_PAIR,
  type ServingCertificateManager,
} from "./certificate/serving-certificate-manager.js";
import { createCertificateStore } from "./certificate/store.js";
import { ConfigError, durationMs, type ResolvedKubeletConfig, resolveKubeletConfig } from "./config/index.js";
import { createKubelet, type Kubelet } from "./kubelet.js";
import { createNodeModule, type NodeModule, type NodeModuleConfig } from "./node/index.js";
import { createCriRuntime } from "./runtime/cri-runtime.js";
import type { CgroupDriver } from "./runtime/pod-cgroups.js";
import { createKubeletMetrics, createServerModule, type KubeletMetrics } from "./server/index.js";
import { registerServingCertificateMetrics } from "./server/metrics.js";
import { createShutdownManager, type ShutdownManager } from "./shutdown/shutdown-manager.js";

const BIN = "kubenode-kubelet";

function packageVersion(): string {
  try {
    return (createRequire(import.meta.url)("../package.json") as { version: string }).version;
  } catch {
    return "0.0.0";
  }
}

/** Node module settings from the resolved configuration. */
export function nodeModuleConfig(r: ResolvedKubeletConfig, kubeletVersion: string): NodeModuleConfig {
  const c = r.config;
  return {
    maxPods: c.maxPods,
    registerNode: c.registerNode,
    registerWithTaints: c.registerWithTaints,
    nodeLabels: r.flags.nodeLabels,
    nodeIPs: r.flags.nodeIPs,
    kubeReserved: c.kubeReserved,
    systemReserved: c.systemReserved,
    eviction: {
      ...(c.evictionHard ? { evictionHard: c.evictionHard } : {}),
      evictionSoft: c.evictionSoft,
      evictionSoftGracePeriod: c.evictionSoftGracePeriod,
      evictionMinimumReclaim: c.evictionMinimumReclaim,
      mergeDefaultEvictionSettings: c.mergeDefaultEvictionSettings,
      enforceNodeAllocatable: c.enforceNodeAllocatable,
    },
    evictionPressureTransitionPeriodMs: durationMs(c.evictionPressureTransitionPeriod),
    evictionMaxPodGracePeriodSeconds: c.evictionMaxPodGracePeriod,
    localStorageCapacityIsolation: c.localStorageCapacityIsolation,
    nodeStatusUpdateFrequencyMs: durationMs(c.nodeStatusUpdateFrequency),
    nodeStatusReportFrequencyMs: durationMs(c.nodeStatusReportFrequency),
    nodeLeaseDurationSeconds: c.nodeLeaseDurationSeconds,
    nodeStatusMaxImages: c.nodeStatusMaxImages,
    kubeletVersion,
    kubeletPort: c.port,
    rootDir: r.flags.rootDir,
    allowedUnsafeSysctls: c.allowedUnsafeSysctls,
  };
}

interface Running {
  /** Stops; on SIGTERM with shutdownGracePeriod set, terminates the node's pods first. */
  stop(signal?: string): Promise<void>;
}

/** Waits for pod statuses to reach the API, at most `ms` (they are lost otherwise when we exit). */
async function flushStatuses(kubelet: Kubelet, clock: Clock, ms: number): Promise<void> {
  const abort = new AbortController();
  const timer = clock.setTimeout(() => abort.abort(), ms);
  try {
    await kubelet.flushStatuses(abort.signal);
  } finally {
    clock.clearTimeout(timer);
  }
}

async function run(r: ResolvedKubeletConfig, log: Logger, version: string): Promise<Running> {
  const c = r.config;
  const closers: (() => Promise<unknown> | unknown)[] = [];
  const stopAll = async () => {
    const errors: unknown[] = [];
    for (const close of closers.reverse()) {
      try {
        await close();
      } catch (err) {
        errors.push(err);
      }
    }
    if (errors.length > 0) throw new AggregateError(errors, "stopping the kubelet failed");
  };
  try {
    // Upstream's setupDataDirs (pkg/kubelet/kubelet.go) creates the root directory (0750) at
    // start-up: node status and the eviction manager stat it.
    await mkdir(r.flags.rootDir, { recursive: true, mode: 0o750 });
    for (const field of r.ignoredFields)
      log.warn("KubeletConfiguration field is not supported by this kubelet and is ignored", { field });
    const clock = createRealClock();
    let client: KubeClient | undefined;
    const newClient = (connection: KubeConnection) =>
      createKubeClient(connection, { userAgent: `${BIN}/v${version} (${r.nodeName})` });
    const certDir = r.flags.certDir ?? join(r.flags.rootDir, "pki");
    if (r.flags.bootstrapKubeconfig) {
      if (!r.flags.kubeconfig)
        throw new Error(
          "--bootstrap-kubeconfig needs --kubeconfig: the path the issued credentials are written to",
        );
      // Upstream runs the bootstrap before anything else: without credentials nothing can start.
      const abort = new AbortController();
      closers.push(() => abort.abort());
      // The clock's timers do not hold the process open, and while the kubelet only waits for its
      // CSR to be approved nothing else does: keep it alive until the bootstrap is done.
      const keepAlive = setInterval(() => {}, 60_000);
      closers.push(() => clearInterval(keepAlive));
      await bootstrapClientCertificate({
        nodeName: r.nodeName,
        kubeconfigPath: r.flags.kubeconfig,
        bootstrapKubeconfigPath: r.flags.bootstrapKubeconfig,
        certDir,
        createClient: newClient,
        clock,
        logger: log,
        signal: abort.signal,
      }).finally(() => clearInterval(keepAlive));
    }
    if (r.flags.kubeconfig) {
      let connection: KubeConnection;
      try {
        connection = loadKubeConfig({ path: r.flags.kubeconfig });
      } catch (err) {
        throw new Error(
          `invalid kubeconfig ${JSON.stringify(r.flags.kubeconfig)}: ${(err as Error).message}`,
          {
            cause: err,
          },
        );
      }
      if (c.rotateCertificates && connection.certPem && connection.keyPem) {
        const certificates = await createClientCertificateManager({
          nodeName: r.nodeName,
          store: createCertificateStore(certDir, CLIENT_PAIR),
          connection,
          initial: { certPem: connection.certPem, keyPem: connection.keyPem },
          ...(r.flags.bootstrapKubeconfig
            ? { bootstrapConnection: loadKubeConfig({ path: r.flags.bootstrapKubeconfig }) }
            : {}),
          createClient: newClient,
          clock,
          logger: log.withName("certificate"),
        });
        certificates.start();
        closers.push(() => certificates.stop());
        client = certificates.client;
      } else {
        if (c.rotateCertificates)
          log.warn("rotateCertificates is set but the kubeconfig has no client certificate: not rotating");
        client = newClient(connection);
        closers.push(() => client?.close());
      }
    } else {
      log.info("Standalone mode, no API client: running static pods only", {
        podManifestPath: c.staticPodPath || "<none>",
      });
    }
    const runtimeRequestTimeoutMs = durationMs(c.runtimeRequestTimeout);
    const cri: CriClient = createCriClient({
      endpoint: c.containerRuntimeEndpoint,
      timeoutMs: runtimeRequestTimeoutMs,
    });
    closers.push(() => cri.close());
    const runtimeSettings = {
      podLogsDir: c.podLogsDir,
      clusterDNS: c.clusterDNS,
      clusterDomain: c.clusterDomain,
      resolvConf: c.resolvConf,
    };
    const metrics = createKubeletMetrics(r.nodeName);
    const podCgroups = c.cgroupsPerQOS
      ? { podCgroups: { driver: c.cgroupDriver as CgroupDriver, root: c.cgroupRoot || "/" } }
      : {};
    const kubelet: Kubelet = createKubelet({
      nodeName: r.nodeName,
      metrics,
      ...(client ? { client } : {}),
      runtime: createCriRuntime({
        client: cri,
        requestTimeoutMs: runtimeRequestTimeoutMs,
        rootDir: r.flags.rootDir,
        logger: log,
        ...runtimeSettings,
        ...podCgroups,
      }),
      ...podCgroups,
      gc: {
        image: {
          highThresholdPercent: c.imageGCHighThresholdPercent,
          lowThresholdPercent: c.imageGCLowThresholdPercent,
          minAgeMs: durationMs(c.imageMinimumGCAge),
        },
      },
      ...runtimeSettings,
      ...(c.staticPodPath ? { podManifestPath: c.staticPodPath } : {}),
      fileCheckFrequencyMs: durationMs(c.fileCheckFrequency),
      syncFrequencyMs: durationMs(c.syncFrequency),
      rootDir: r.flags.rootDir,
      runtimeRequestTimeoutMs,
      ...(r.flags.nodeIPs.length ? { nodeIPs: r.flags.nodeIPs } : {}),
      logger: log,
      clock,
    });
    let shutdown: ShutdownManager | undefined;
    const node: NodeModule = createNodeModule({
      nodeName: r.nodeName,
      ...(client ? { client } : {}),
      runtime: kubelet.runtime,
      cri,
      kubelet,
      // Node-level reclaim before evicting for disk pressure: container GC, then image GC.
      reclaim: kubelet.gc,
      config: nodeModuleConfig(r, `v${version}`),
      readinessChecks: [() => shutdown?.readiness()],
      clock,
      logger: log,
    });
    shutdown = createShutdownManager({
      kubelet,
      shutdownGracePeriodSeconds: durationMs(c.shutdownGracePeriod) / 1000,
      shutdownGracePeriodCriticalPodsSeconds: durationMs(c.shutdownGracePeriodCriticalPods) / 1000,
      syncNodeStatus: async () => node.status?.sync(),
      clock,
      logger: log,
    });
    kubelet.addAdmitHandler((pod, active) => node.admit(pod, active));
    kubelet.addAdmitHandler((pod) => shutdown.admit(pod));
    // Stop order: the node module (it kills pods through the kubelet), then the kubelet, then clients.
    closers.push(() => kubelet.stop());
    await kubelet.start();
    closers.push(() => node.stop());
    node.start();
    if (c.enableServer) {
      let servingCertificates: ServingCertificateManager | undefined;
      if (c.serverTLSBootstrap && !client)
        log.warn(
          "serverTLSBootstrap without an API client (standalone): no serving certificate can be requested",
        );
      if (c.serverTLSBootstrap) {
        const manager = await createServingCertificates(r, client, certDir, metrics, clock, log);
        manager.start();
        closers.push(() => manager.stop());
        servingCertificates = manager;
      }
      const server = await createServerModule({
        nodeName: r.nodeName,
        config: c,
        rootDir: r.flags.rootDir,
        kubelet,
        cri,
        ...(client ? { client } : {}),
        nodeIPs: r.flags.nodeIPs,
        ...(servingCertificates ? { servingCertificates } : {}),
        metrics,
        podLogsDir: c.podLogsDir,
        clock,
        logger: log,
      });
      await server.start();
      closers.push(() => server.stop());
    }
    log.info("Started kubelet", { node: r.nodeName, version: `v${version}`, standalone: r.standalone });
    const graceful = shutdown;
    return {
      async stop(signal) {
        // Graceful node shutdown on SIGTERM (upstream reacts to logind's PrepareForShutdown; a
        // kubelet in a container or under a plain init only gets SIGTERM). SIGINT keeps pods running.
        if (signal === "SIGTERM" && graceful.enabled) {
          await graceful.shutdown();
          await flushStatuses(kubelet, clock, 10_000).catch((err) =>
            log.warn("Pod statuses not all written before exit", { err: String(err) }),
          );
        }
        await stopAll();
      },
    };
  } catch (err) {
    await stopAll().catch((e) => log.error("Cleanup after a failed start failed", e));
    throw err;
  }
}

/**
 * serverTLSBootstrap's certificate manager, as upstream's NewKubeletServerCertificateManager: the
 * node's addresses as node status reports them, CSRs filed with the node's own credentials, pairs kept
 * in the cert dir as kubelet-server-*.pem (tlsCertFile until then), and its metrics on /metrics.
 */
async function createServingCertificates(
  r: ResolvedKubeletConfig,
  client: KubeClient | undefined,
  certDir: string,
  metrics: KubeletMetrics,
  clock: Clock,
  log: Logger,
): Promise<ServingCertificateManager> {
  const c = r.config;
  const addresses = createHostAddressProvider({ nodeName: r.nodeName, nodeIPs: r.flags.nodeIPs });
  let manager: ServingCertificateManager | undefined;
  const certificateMetrics = registerServingCertificateMetrics(
    metrics.registry,
    () => manager?.current()?.notAfterMs,
    () => clock.now(),
  );
  manager = await createServingCertificateManager({
    nodeName: r.nodeName,
    store: createCertificateStore(certDir, SERVER_PAIR),
    addresses: () => addresses.addresses(),
    ...(c.tlsCertFile ? { initial: await readServingFiles(c.tlsCertFile, c.tlsPrivateKeyFile) } : {}),
    ...(client ? { client } : {}),
    onRenewError: () => certificateMetrics.renewError(),
    clock,
    logger: log.withName("certificate"),
  });
  // client-go observes the replaced certificate's age each time a new one is cached.
  let previous = manager.current();
  manager.onCertificate((next) => {
    if (previous) certificateMetrics.rotated(previous.notBeforeMs);
    previous = next;
  });
  return manager;
}

/** tlsCertFile and tlsPrivateKeyFile (validation makes sure both or neither are set). */
async function readServingFiles(
  certFile: string,
  keyFile: string,
): Promise<{ certPem: string; keyPem: string }> {
  try {
    const [certPem, keyPem] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
    return { certPem, keyPem };
  } catch (err) {
    throw new Error(`cannot read the serving certificate: ${(err as Error).message}`, { cause: err });
  }
}

function errorText(err: unknown): string {
  if (err instanceof AggregateError) return [err.message, ...err.errors.map(errorText)].join("; ");
  return err instanceof Error ? err.message : String(err);
}

/** The binary's entry point; returns the exit code once the kubelet has stopped (or failed). */
export async function main(
  argv: readonly string[],
  io: { stdout: (s: string) => void; stderr: (s: string) => void } = {
    stdout: (s) => void process.stdout.write(s),
    stderr: (s) => void process.stderr.write(s),
  },
  signals: NodeJS.EventEmitter = process,
): Promise<number> {
  const version = packageVersion();
  let log: Logger = createLogger({ write: io.stderr, source: "kubelet" });
  let resolved: ResolvedKubeletConfig;
  try {
    const cmd = await resolveKubeletConfig(argv);
    if (cmd.action === "help") {
      io.stdout(cmd.text);
      return 0;
    }
    if (cmd.action === "version") {
      io.stdout(
        cmd.raw
          ? `${JSON.stringify({ gitVersion: `v${version}`, nodeVersion: process.version, platform: `${process.platform}/${process.arch}` })}\n`
          : `${BIN} v${version}\n`,
      );
      return 0;
    }
    resolved = cmd.resolved;
  } catch (err) {
    log.error("command failed", errorText(err));
    if (err instanceof ConfigError && err.code === "InvalidFlag")
      io.stderr(`Run '${BIN} --help' for usage.\n`);
    return 1;
  }
  log = createLogger({
    write: io.stderr,
    source: "kubelet",
    format: resolved.config.logging.format as LogFormat,
    verbosity: resolved.config.logging.verbosity,
  });
  // Listen before starting: a signal that arrives during start-up stops the kubelet once started.
  let onSignal: ((name: string) => void) | undefined;
  const received = new Promise<string>((resolve) => {
    onSignal = resolve;
  });
  const onTerm = () => onSignal?.("SIGTERM");
  const onInt = () => onSignal?.("SIGINT");
  signals.once("SIGTERM", onTerm);
  signals.once("SIGINT", onInt);
  let running: Running;
  try {
    running = await run(resolved, log, version);
  } catch (err) {
    signals.off("SIGTERM", onTerm);
    signals.off("SIGINT", onInt);
    log.error("command failed", errorText(err));
    return 1;
  }
  const signal = await received;
  signals.off("SIGTERM", onTerm);
  signals.off("SIGINT", onInt);
  log.info("Received signal, shutting down", { signal });
  // A second signal while stopping exits at once.
  const force = () => process.exit(1);
  signals.once("SIGTERM", force);
  signals.once("SIGINT", force);
  try {
    await running.stop(signal);
    log.info("Kubelet stopped");
    return 0;
  } catch (err) {
    log.error("command failed", errorText(err));
    return 1;
  } finally {
    signals.off("SIGTERM", force);
    signals.off("SIGINT", force);
  }
}

// Run only as the binary, not when imported (tests import main()).
const invokedAs = process.argv[1] ?? "";
if (/(^|[/\\])(main\.(js|ts)|kubenode-kubelet)$/.test(invokedAs)) {
  void main(process.argv.slice(2)).then((code) => process.exit(code));
}
