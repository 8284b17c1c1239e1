import type { ChildProcess } from "node:child_process";
import { fileURLToPath } from "node:url";
import { createNetworkLab, type LabHost, type NetworkLab } from "@kubenode/testkit";
import type { EndpointLike, EndpointSliceLike, ServiceLike } from "../src/types.js";

const SCRIPT = fileURLToPath(new URL("./traffic.mjs", import.meta.url));
export const NODE_NAME = "node";

/** A lab: clients, a node that routes (and gets the rules), and three endpoint hosts running servers. */
export interface TrafficLab {
  lab: NetworkLab;
  node: LabHost;
  client: LabHost;
  client2: LabHost;
  eps: LabHost[];
  request(
    from: LabHost,
    proto: "tcp" | "udp",
    ip: string,
    port: number,
    count: number,
    opts?: { timeoutMs?: number; localPort?: number },
  ): Promise<string[]>;
  /**
   * TCP requests back to back until `stop()`. Each waits up to 10 s for its answer, so a slow
   * client on a busy machine is not a failure.
   */
  startLoop(from: LabHost, ip: string, port: number): Promise<{ stop(): Promise<LoopResult> }>;
  destroy(): Promise<void>;
}

/** What a client loop saw. */
export interface LoopResult {
  ok: number;
  failed: number;
  /** Failed requests by outcome ("REFUSED", "TIMEOUT", an errno code). */
  errors: Record<string, number>;
  /**
   * SYNs the client's kernel sent again (no answer within 1 s), for diagnosis: a dropped packet
   * causes one, and so does a heavily loaded machine.
   */
  synRetransmits: number;
}

/**
 * How long a request waits for its answer unless told otherwise: long enough for a starved
 * client process on a loaded 2-core machine (tests expecting no answer pass a short timeout).
 */
const ANSWER_TIMEOUT_MS = 10_000;

function firstLine(child: ChildProcess): Promise<string> {
  return new Promise((resolve, reject) => {
    let buf = "";
    const onData = (d: Buffer) => {
      buf += d.toString();
      const i = buf.indexOf("\n");
      if (i >= 0) {
        child.stdout?.off("data", onData);
        resolve(buf.slice(0, i));
      }
    };
    child.stdout?.on("data", onData);
    child.once("exit", (code) => reject(new Error(`traffic helper exited with ${code} before it was ready`)));
  });
}

export async function startTrafficLab(): Promise<TrafficLab> {
  const lab = await createNetworkLab({
    hosts: ["client", "client2", "node", "ep1", "ep2", "ep3"],
    ipv6: true,
    gateway: "node",
  });
  try {
    const node = lab.host("node");
    const client = lab.host("client");
    const client2 = lab.host("client2");
    const eps = [lab.host("ep1"), lab.host("ep2"), lab.host("ep3")];
    // No ICMP redirects (clients and endpoints share a subnet) and no ICMP rate limit: the REJECT
    // answers of the tests must not be throttled by earlier traffic.
    for (const k of [
      "net.ipv4.conf.all.send_redirects=0",
      "net.ipv4.conf.eth0.send_redirects=0",
      "net.ipv4.icmp_ratelimit=0",
    ]) {
      await node.exec(["sysctl", "-q", "-w", k]);
    }
    // Like a real node, the node has a default route (here to an address nobody answers for), so
    // packets that no rule DNATs reach the filter chains instead of failing the route lookup.
    await node.exec(["ip", "route", "add", "default", "via", node.ip.replace(/\.\d+$/, ".250")]);
    await node.exec([
      "ip",
      "-6",
      "route",
      "add",
      "default",
      "via",
      `${node.ip6!.replace(/:[0-9a-f]+$/, ":")}fa`,
    ]);
    // The client loops open ~2,500 connections a second; with the default 28k ephemeral ports a
    // source port comes back while the node still tracks its last flow (and an endpoint holds it
    // in TIME_WAIT), which can cost a SYN retransmit. Wide ranges keep every 4-tuple fresh.
    for (const c of [client, client2])
      await c.exec(["sysctl", "-q", "-w", "net.ipv4.ip_local_port_range=1024 65535"]);
    for (const ep of eps) {
      // Replies to unmasqueraded (externalTrafficPolicy Local) traffic must go back through the node.
      for (const c of [client, client2]) await ep.exec(["ip", "route", "add", `${c.ip}/32`, "via", node.ip]);
      const child = ep.spawn([process.execPath, SCRIPT, "server", ep.name, "8080", "5353"]);
      await firstLine(child);
    }
    return {
      lab,
      node,
      client,
      client2,
      eps,
      async request(from, proto, ip, port, count, opts = {}) {
        const argv = [process.execPath, SCRIPT, "client", proto, ip, String(port), String(count)];
        argv.push(String(opts.timeoutMs ?? ANSWER_TIMEOUT_MS));
        if (opts.localPort !== undefined) argv.push(String(opts.localPort));
        const { stdout } = await from.exec(argv);
        return JSON.parse(stdout) as string[];
      },
      async startLoop(from, ip, port) {
        const child = from.spawn([
          process.execPath,
          SCRIPT,
          "loop",
          ip,
          String(port),
          String(ANSWER_TIMEOUT_MS),
        ]);
        await firstLine(child);
        return {
          async stop() {
            const out = new Promise<string>((resolve) => {
              let buf = "";
              child.stdout?.on("data", (d: Buffer) => {
                buf += d.toString();
              });
              child.once("exit", () => resolve(buf));
            });
            // `ip netns exec` passes the signal on to node (it execs).
            child.kill("SIGTERM");
            return JSON.parse((await out).trim()) as LoopResult;
          },
        };
      },
      destroy: () => lab.destroy(),
    };
  } catch (err) {
    await lab.destroy();
    throw err;
  }
}

function service(name: string, spec: NonNullable<ServiceLike["spec"]>, lbIPs: string[] = []): ServiceLike {
  return {
    metadata: { namespace: "lab", name },
    spec,
    status: { loadBalancer: { ingress: lbIPs.map((ip) => ({ ip })) } },
  };
}

function slice(
  name: string,
  endpoints: EndpointLike[],
  family: "IPv4" | "IPv6" = "IPv4",
  proto = "TCP",
): EndpointSliceLike {
  const port = proto === "UDP" ? 5353 : 8080;
  return {
    metadata: {
      namespace: "lab",
      name: `${name}-${family.toLowerCase()}`,
      labels: { "kubernetes.io/service-name": name },
    },
    addressType: family,
    endpoints,
    ports: [{ name: "p", port, protocol: proto }],
  };
}

const ready = (ip: string, nodeName: string): EndpointLike => ({
  addresses: [ip],
  conditions: { ready: true, serving: true, terminating: false },
  nodeName,
});

/** Service IPs used by {@link labScenario}. */
export const IPS = {
  spread: "172.30.0.10",
  affinity: "172.30.0.11",
  nodePortSvc: "172.30.0.12",
  itpLocal: "172.30.0.13",
  empty: "172.30.0.14",
  terminating: "172.30.0.15",
  udp: "172.30.0.16",
  dual4: "172.30.0.17",
  dual6: "fd00:30::17",
  lb: "192.0.2.100",
  partial: "172.30.0.18",
} as const;

/** The Services and EndpointSlices the traffic tests program (ep1 is local to the node). */
export function labScenario(t: TrafficLab, opts: { udpEndpoint?: number; partialEndpoint?: number } = {}) {
  const [ep1, ep2, ep3] = t.eps as [LabHost, LabHost, LabHost];
  const local = ready(ep1.ip, NODE_NAME);
  const remote2 = ready(ep2.ip, "other");
  const remote3 = ready(ep3.ip, "other");
  const port = (extra: object = {}) => [{ name: "p", port: 80, ...extra }];
  const services: ServiceLike[] = [
    service("spread", { clusterIP: IPS.spread, ports: port() }),
    service("affinity", { clusterIP: IPS.affinity, sessionAffinity: "ClientIP", ports: port() }),
    service("nodeport", { type: "NodePort", clusterIP: IPS.nodePortSvc, ports: port({ nodePort: 30080 }) }),
    service("etp-local", {
      type: "NodePort",
      clusterIP: "172.30.0.20",
      externalTrafficPolicy: "Local",
      ports: port({ nodePort: 30081 }),
    }),
    service("etp-remote", {
      type: "NodePort",
      clusterIP: "172.30.0.21",
      externalTrafficPolicy: "Local",
      ports: port({ nodePort: 30082 }),
    }),
    service("itp-local", { clusterIP: IPS.itpLocal, internalTrafficPolicy: "Local", ports: port() }),
    service("empty", { clusterIP: IPS.empty, ports: port() }),
    service("terminating", { clusterIP: IPS.terminating, ports: port() }),
    service("udp", { clusterIP: IPS.udp, ports: [{ name: "p", port: 53, protocol: "UDP" }] }),
    service("dual", { clusterIPs: [IPS.dual4, IPS.dual6], ipFamilies: ["IPv4", "IPv6"], ports: port() }),
    service(
      "lb",
      {
        type: "LoadBalancer",
        clusterIP: "172.30.0.22",
        loadBalancerSourceRanges: [`${t.client.ip}/32`],
        ports: port({ nodePort: 30083 }),
      },
      [IPS.lb],
    ),
    service("partial", { clusterIP: IPS.partial, ports: port() }),
  ];
  const udpEp = t.eps[opts.udpEndpoint ?? 0]!;
  const partialEp = t.eps[opts.partialEndpoint ?? 1]!;
  const endpointSlices: EndpointSliceLike[] = [
    slice("spread", [local, remote2, remote3]),
    slice("affinity", [local, remote2, remote3]),
    slice("nodeport", [remote2]),
    slice("etp-local", [local, remote2]),
    slice("etp-remote", [remote2]),
    slice("itp-local", [local, remote2]),
    slice("terminating", [
      {
        addresses: [ep3.ip],
        conditions: { ready: false, serving: true, terminating: true },
        nodeName: "other",
      },
      {
        addresses: [ep2.ip],
        conditions: { ready: false, serving: false, terminating: true },
        nodeName: "other",
      },
    ]),
    slice("udp", [ready(udpEp.ip, "other")], "IPv4", "UDP"),
    slice("dual", [local, remote2]),
    slice("dual", [ready(ep1.ip6!, NODE_NAME)], "IPv6"),
    slice("lb", [remote2]),
    slice("partial", [ready(partialEp.ip, "other")]),
  ];
  return { nodeName: NODE_NAME, services, endpointSlices };
}

/** Counts occurrences of each answer. */
export function tally(results: string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const r of results) out[r] = (out[r] ?? 0) + 1;
  return out;
}
