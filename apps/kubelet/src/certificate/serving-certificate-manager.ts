// The kubelet's serving certificate from the cluster (KubeletConfiguration serverTLSBootstrap;
// upstream pkg/kubelet/certificate NewKubeletServerCertificateManager on client-go's certificate
// manager): a `kubernetes.io/kubelet-serving` CSR for system:node:<name> naming the node's
// addresses, the issued pair stored as kubelet-server-current.pem, renewed at a jittered 70-90% of
// its lifetime. Listeners (the :10250 server) get every new pair.
import { generateKeyPairSync, type KeyObject, X509Certificate } from "node:crypto";
import { isIP } from "node:net";
import type { Clock, KubeClient, Logger } from "@kubenode/kube";
import type { NodeAddress } from "@kubenode/node-status";
import { rotationDeadlineMs } from "./client-certificate-manager.js";
import { type CsrSubject, createCsrPem } from "./csr.js";
import {
  type CertificateRequest,
  requestCertificate as defaultRequestCertificate,
  KUBELET_SERVING_SIGNER,
} from "./request.js";
import { type CertificateStore, parsePair, type StoredPair } from "./store.js";
import { runAt } from "./timer.js";

/** The pair name of the kubelet's serving certificate files (`kubelet-server-current.pem`). */
export const SERVER_PAIR = "kubelet-server";

/**
 * Usages of a kubelet serving certificate request: digital signature and server auth, plus key
 * encipherment for RSA keys only (client-go's DefaultKubeletServingGetUsages; the kubelet-serving
 * signer accepts exactly these two sets).
 */
export function servingUsages(key: KeyObject): string[] {
  return key.asymmetricKeyType === "rsa"
    ? ["digital signature", "key encipherment", "server auth"]
    : ["digital signature", "server auth"];
}

/**
 * The request a kubelet files for its addresses (upstream newGetTemplateFn and
 * addressesToHostnamesAndIPs): DNS names from Hostname (when not an IP), InternalDNS and
 * ExternalDNS; IPs from InternalIP, ExternalIP and an IP Hostname; each once, sorted. Undefined
 * while the node has no IP address: upstream requests nothing until it has one (the
 * AllowDNSOnlyNodeCSR feature gate, off by default, relaxes this).
 */
export function servingTemplate(nodeName: string, addresses: readonly NodeAddress[]): CsrSubject | undefined {
  const dns = new Set<string>();
  const ips = new Set<string>();
  for (const { type, address } of addresses) {
    if (!address) continue;
    if (type === "Hostname") (isIP(address) ? ips : dns).add(address);
    else if ((type === "InternalIP" || type === "ExternalIP") && isIP(address)) ips.add(address);
    else if (type === "InternalDNS" || type === "ExternalDNS") dns.add(address);
  }
  if (ips.size === 0) return undefined;
  return {
    commonName: `system:node:${nodeName}`,
    organizations: ["system:nodes"],
    dnsNames: [...dns].sort(),
    ipAddresses: [...ips].sort(),
  };
}

/**
 * Why `pair` no longer serves `template` (upstream certSatisfiesTemplate: another CN, or a DNS
 * name, IP or organization missing; extra names are fine), or undefined when it does.
 */
export function templateMismatch(pair: StoredPair, template: CsrSubject): string | undefined {
  const leaf = new X509Certificate(pair.certPem);
  const cn = /(?:^|\n)CN=([^\n]*)/.exec(leaf.subject)?.[1];
  if (cn !== template.commonName)
    return `certificate CN (${cn ?? ""}) does not match requested CN (${template.commonName})`;
  const orgs = [...leaf.subject.matchAll(/(?:^|\n)O=([^\n]*)/g)].map((m) => m[1]);
  const missingOrgs = template.organizations.filter((o) => !orgs.includes(o));
  if (missingOrgs.length) return `certificate is missing requested orgs [${missingOrgs.join(" ")}]`;
  const sans = (leaf.subjectAltName ?? "").split(", ");
  const missingDns = (template.dnsNames ?? []).filter((d) => !sans.includes(`DNS:${d}`));
  if (missingDns.length) return `certificate is missing requested DNS names [${missingDns.join(" ")}]`;
  const certIps = sans.filter((s) => s.startsWith("IP Address:")).map((s) => normalizeIp(s.slice(11)));
  const missingIps = (template.ipAddresses ?? []).filter((ip) => !certIps.includes(normalizeIp(ip)));
  if (missingIps.length) return `certificate is missing requested IP addresses [${missingIps.join(" ")}]`;
  return undefined;
}

/** IPv6 in one spelling (Node.js prints SAN IPv6 addresses fully expanded). */
function normalizeIp(ip: string): string {
  if (isIP(ip) !== 6) return ip;
  try {
    return new URL(`http://[${ip}]/`).hostname;
  } catch {
    return ip;
  }
}

/** Options of {@link createServingCertificateManager}. */
export interface ServingCertificateManagerOptions {
  nodeName: string;
  /** Where pairs are kept (`kubelet-server-*.pem` in the cert dir). */
  store: CertificateStore;
  /** The node's addresses, as node status reports them (what the certificate must name). */
  addresses: () => Promise<readonly NodeAddress[]>;
  /**
   * The node's own API client: the CSR is filed as system:node:<name>. Without one (standalone)
   * nothing is requested; a stored pair or `initial` is served until it expires, as upstream.
   */
  client?: KubeClient;
  /**
   * A pair to start with when the store has none or an expired one (tlsCertFile/tlsPrivateKeyFile,
   * which upstream's file store falls back to): served and renewed like an issued one.
   */
  initial?: { certPem: string; keyPem: string };
  /** How long one CSR is waited for; upstream's certificateWaitTimeout is 15 minutes. */
  certificateWaitTimeoutMs?: number;
  /** Uniform in [0, 1): the jitter of the rotation deadline. Default Math.random. */
  random?: () => number;
  /** Files the CSR and waits for the certificate; default {@link defaultRequestCertificate}. */
  requestCertificate?: (client: KubeClient, req: CertificateRequest) => Promise<string>;
  /** Called on every failed renewal (upstream's kubelet_server_expiration_renew_errors). */
  onRenewError?: () => void;
  /**
   * How often, between rotations, the node's addresses are compared with the served certificate
   * (a mismatch rotates at once). Default 10 s: upstream compares every second, but against the
   * addresses node status refreshes every nodeStatusUpdateFrequency (10 s).
   */
  templateCheckIntervalMs?: number | undefined;
  clock: Clock;
  logger: Logger;
}

/** A running serving certificate rotation. */
export interface ServingCertificateManager {
  /** The pair to serve, or undefined while none is issued (or the last one expired). */
  current(): StoredPair | undefined;
  /** Calls `listener` with every newly issued pair; returns a function that unsubscribes. */
  onCertificate(listener: (pair: StoredPair) => void): () => void;
  /** When the next rotation is due (epoch ms), undefined when stopped or not scheduled. */
  nextRotationMs(): number | undefined;
  start(): void;
  /** Stops the timer and abandons a pending request. */
  stop(): void;
}

const BACKOFF_INITIAL_MS = 2_000;
/** After its five backoff steps upstream polls every 32 s. */
const BACKOFF_MAX_MS = 32_000;
/** How often to look again for an IP address to request a certificate for (upstream's loop period). */
const TEMPLATE_RETRY_MS = 1_000;

/**
 * Loads the current pair (the store's, else `initial`). Throws when the stored file exists but is
 * not a certificate and key.
 */
export async function createServingCertificateManager(
  o: ServingCertificateManagerOptions,
): Promise<ServingCertificateManager> {
  const { clock, logger: log } = o;
  const random = o.random ?? Math.random;
  const request = o.requestCertificate ?? defaultRequestCertificate;
  let pair = await o.store.current();
  if ((!pair || clock.now() >= pair.notAfterMs) && o.initial)
    pair = parsePair(`${o.initial.certPem.trimEnd()}\n${o.initial.keyPem.trimEnd()}\n`, "tlsCertFile");
  let current = pair;
  const listeners = new Set<(p: StoredPair) => void>();
  let cancelTimer: (() => void) | undefined;
  let deadline: number | undefined;
  let running = false;
  let abort = new AbortController();
  let failures = 0;
  let waitingForAddress = false;

  const checkEveryMs = o.templateCheckIntervalMs ?? 10_000;
  /** Rotates at `atMs`, waking every `checkEveryMs` before then to compare the addresses. */
  const schedule = (atMs: number) => {
    if (!running) return;
    deadline = atMs;
    const wakeAt = Math.min(atMs, clock.now() + checkEveryMs);
    cancelTimer = runAt(clock, wakeAt, () => void (wakeAt >= atMs ? rotate() : recheck(atMs)));
  };

  /**
   * Between rotations: a certificate that no longer names the node's addresses is replaced now
   * (client-go's certificate manager interrupts its rotation wait when the template changes).
   */
  async function recheck(atMs: number): Promise<void> {
    cancelTimer = undefined;
    const template = await templateNow().catch(() => undefined);
    if (!running || cancelTimer) return;
    const why = current && template ? templateMismatch(current, template) : undefined;
    if (!why) return schedule(atMs);
    log.info("Certificate template changed, rotating", { reason: why });
    await rotate();
  }

  /** Now when there is no valid pair or it does not name the node's addresses; else 70-90% of its life. */
  const nextDeadline = (template: CsrSubject | undefined): number => {
    if (!current || clock.now() >= current.notAfterMs) return clock.now();
    if (template) {
      const why = templateMismatch(current, template);
      if (why) {
        log.info("Current serving certificate does not match the node's addresses, rotating", {
          reason: why,
        });
        return clock.now();
      }
    }
    const at = rotationDeadlineMs(current, random());
    log.info("Certificate rotation deadline determined", {
      signerName: KUBELET_SERVING_SIGNER,
      expiration: new Date(current.notAfterMs).toISOString(),
      deadline: new Date(at).toISOString(),
    });
    return at;
  };

  const templateNow = async (): Promise<CsrSubject | undefined> =>
    servingTemplate(o.nodeName, await o.addresses());

  async function rotate(): Promise<void> {
    cancelTimer = undefined;
    let template: CsrSubject | undefined;
    try {
      template = await templateNow();
    } catch (err) {
      log.warn("Unable to read the node's addresses for the serving certificate", { err: String(err) });
    }
    if (!running) return;
    if (!template) {
      // Upstream requests nothing without an IP to name, and looks again every second.
      if (!waitingForAddress)
        log.info("No IP address for the node yet, waiting to request a serving certificate");
      waitingForAddress = true;
      schedule(clock.now() + TEMPLATE_RETRY_MS);
      return;
    }
    waitingForAddress = false;
    log.info("Rotating certificates", { signerName: KUBELET_SERVING_SIGNER });
    try {
      const { privateKey } = generateKeyPairSync("ec", { namedCurve: "prime256v1" });
      if (!o.client) throw new Error("no API client to request a serving certificate with");
      const certPem = await request(o.client, {
        csrPem: createCsrPem(template, privateKey),
        signerName: KUBELET_SERVING_SIGNER,
        usages: servingUsages(privateKey),
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
      current = next;
      failures = 0;
      log.info("Serving certificate rotated", {
        subject: next.subject.replace(/\n/g, ", "),
        expiration: new Date(next.notAfterMs).toISOString(),
      });
      for (const listener of listeners) {
        try {
          listener(next);
        } catch (err) {
          log.error("A serving certificate listener failed", err);
        }
      }
      schedule(nextDeadline(template));
    } catch (err) {
      if (!running) return;
      const delay = Math.min(BACKOFF_INITIAL_MS * 2 ** failures, BACKOFF_MAX_MS);
      failures++;
      o.onRenewError?.();
      log.error("Failed to rotate the serving certificate, retrying", err, { retryInMs: delay });
      schedule(clock.now() + delay);
    }
  }

  return {
    current: () => (current && clock.now() < current.notAfterMs ? current : undefined),
    onCertificate(listener) {
      listeners.add(listener);
      return () => listeners.delete(listener);
    },
    nextRotationMs: () => (running ? deadline : undefined),
    start() {
      if (running) return;
      if (!o.client) {
        log.info("Certificate rotation is not enabled, no connection to the apiserver", {
          signerName: KUBELET_SERVING_SIGNER,
        });
        return;
      }
      running = true;
      abort = new AbortController();
      void templateNow()
        .catch(() => undefined)
        .then((template) => {
          if (running && !cancelTimer) schedule(nextDeadline(template));
        });
    },
    stop() {
      running = false;
      deadline = undefined;
      cancelTimer?.();
      cancelTimer = undefined;
      abort.abort();
    },
  };
}
