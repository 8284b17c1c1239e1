// Client certificate rotation (upstream client-go util/certificate Manager, as the kubelet builds it
// with rotateCertificates): a new key and CSR at a jittered 70-90% of the current certificate's
// lifetime, the issued pair stored as kubelet-client-current.pem, and API calls moved to it.
import { generateKeyPairSync } from "node:crypto";
import type { Clock, KubeClient, KubeConnection, Logger } from "@kubenode/kube";
import { createCsrPem } from "./csr.js";
import {
  type CertificateRequest,
  clientUsages,
  requestCertificate as defaultRequestCertificate,
  KUBELET_CLIENT_SIGNER,
} from "./request.js";
import { type CertificateStore, parsePair, type StoredPair } from "./store.js";
import { runAt } from "./timer.js";

/** Options of {@link createClientCertificateManager}. */
export interface ClientCertificateManagerOptions {
  nodeName: string;
  /** Where pairs are kept (`kubelet-client-*.pem` in the cert dir). */
  store: CertificateStore;
  /** The API server (URL, CA) from the kubeconfig; the certificate and key come from the store. */
  connection: KubeConnection;
  /** The pair to start with when the store has none yet (the kubeconfig's own certificate). */
  initial?: { certPem: string; keyPem: string };
  /** Credentials that may file a CSR once the current certificate has expired (the bootstrap kubeconfig). */
  bootstrapConnection?: KubeConnection;
  createClient: (connection: KubeConnection) => KubeClient;
  /** How long to wait for a CSR to be issued; upstream waits 15 minutes. */
  certificateWaitTimeoutMs?: number;
  /** Uniform in [0, 1): the jitter of the rotation deadline. Default Math.random. */
  random?: () => number;
  /** Files the CSR and waits for the certificate; default {@link defaultRequestCertificate}. */
  requestCertificate?: (client: KubeClient, req: CertificateRequest) => Promise<string>;
  clock: Clock;
  logger: Logger;
}

/** A running certificate rotation. */
export interface ClientCertificateManager {
  /** An API client that always speaks with the current certificate (swapped on rotation). */
  readonly client: KubeClient;
  /** The certificate in use. */
  current(): StoredPair;
  /** When the next rotation is due (epoch ms), undefined when stopped. */
  nextRotationMs(): number | undefined;
  /** Starts the rotation timer. */
  start(): void;
  /** Stops the timer and an ongoing request, closes the clients. */
  stop(): void;
}

/**
 * When to rotate a certificate: at a uniformly random point between 70% and 90% of its lifetime
 * from notBefore (upstream's nextRotationDeadline), so a fleet
 * issued at once does not renew at once.
 */
export function rotationDeadlineMs(
  pair: Pick<StoredPair, "notBeforeMs" | "notAfterMs">,
  random: number,
): number {
  const lifetime = pair.notAfterMs - pair.notBeforeMs;
  // upstream: wait.Jitter(lifetime, 0.2) - 0.3 x lifetime = lifetime x (0.7 + 0.2 x random)
  return pair.notBeforeMs + lifetime * (0.7 + 0.2 * random);
}

/** Retry delays after a failed request: 2 s, doubling, at most 5 minutes. */
export const BACKOFF_INITIAL_MS = 2_000;
export const BACKOFF_MAX_MS = 5 * 60_000;

/**
 * Loads the current pair (the store's, else `initial`) and returns a manager whose `client` uses
 * it. Throws when there is no pair at all.
 */
export async function createClientCertificateManager(
  o: ClientCertificateManagerOptions,
): Promise<ClientCertificateManager> {
  const { clock, logger: log } = o;
  const random = o.random ?? Math.random;
  const request = o.requestCertificate ?? defaultRequestCertificate;
  let pair = await o.store.current();
  if (!pair && o.initial) {
    pair = parsePair(`${o.initial.certPem.trimEnd()}\n${o.initial.keyPem.trimEnd()}\n`, "kubeconfig");
  }
  if (!pair) throw new Error(`no client certificate to rotate: ${o.store.currentPath} does not exist`);
  const connect = (p: StoredPair) =>
    o.createClient({ ...o.connection, certPem: p.certPem, keyPem: p.keyPem });
  let current = pair;
  let inner = connect(current);
  let cancelTimer: (() => void) | undefined;
  let deadline: number | undefined;
  let running = false;
  let abort = new AbortController();
  let failures = 0;

  const client: KubeClient = {
    get connection() {
      return inner.connection;
    },
    get stats() {
      return inner.stats;
    },
    request: (req) => inner.request(req),
    watch: (path, query, signal) => inner.watch(path, query, signal),
    close: () => inner.close(),
  };

  const schedule = (atMs: number) => {
    if (!running) return;
    deadline = atMs;
    cancelTimer = runAt(clock, atMs, () => void rotate());
  };

  const scheduleFromCurrent = () => {
    const at = rotationDeadlineMs(current, random());
    log.info("Certificate rotation deadline determined", {
      expiration: new Date(current.notAfterMs).toISOString(),
      deadline: new Date(at).toISOString(),
    });
    schedule(at);
  };

  async function rotate(): Promise<void> {
    cancelTimer = undefined;
    log.info("Rotating certificates");
    let requester = inner;
    let temporary: KubeClient | undefined;
    try {
      // An expired certificate cannot authenticate any more: fall back to the bootstrap credentials.
      if (clock.now() >= current.notAfterMs && o.bootstrapConnection) {
        temporary = o.createClient(o.bootstrapConnection);
        requester = temporary;
      }
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
      const usages = clientUsages(privateKey);
      const certPem = await request(requester, {
        csrPem: createCsrPem(
          { commonName: `system:node:${o.nodeName}`, organizations: ["system:nodes"] },
          privateKey,
        ),
        signerName: KUBELET_CLIENT_SIGNER,
        usages,
        timeoutMs: o.certificateWaitTimeoutMs ?? 15 * 60_000,
        clock,
        signal: abort.signal,
      });
      if (!running) return;
      const next = await o.store.update(
        certPem,
        privateKey.export({ type: "sec1", format: "pem" }).toString(),
        clock.now(),
      );
      if (!running) return;
      const previous = inner;
      current = next;
      inner = connect(next);
      // Idle sockets close now; a watch still open on the old certificate (valid until it
      // expires) ends on its own and is re-opened on the new one.
      previous.close();
      failures = 0;
      log.info("Certificate rotated", {
        subject: next.subject.replace(/\n/g, ", "),
        expiration: new Date(next.notAfterMs).toISOString(),
      });
      scheduleFromCurrent();
    } catch (err) {
      if (!running) return;
      const delay = Math.min(BACKOFF_INITIAL_MS * 2 ** failures, BACKOFF_MAX_MS);
      failures++;
      log.error("Failed to rotate the client certificate, retrying", err, { retryInMs: delay });
      schedule(clock.now() + delay);
    } finally {
      temporary?.close();
    }
  }

  return {
    client,
    current: () => current,
    nextRotationMs: () => (running ? deadline : undefined),
    start() {
      if (running) return;
      running = true;
      abort = new AbortController();
      scheduleFromCurrent();
    },
    stop() {
      running = false;
      deadline = undefined;
      cancelTimer?.();
      cancelTimer = undefined;
      abort.abort();
      inner.close();
    },
  };
}
