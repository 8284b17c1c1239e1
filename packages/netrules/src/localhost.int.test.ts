import { fileURLToPath } from "node:url";
import { canUseRealComponents } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { labScenario, startTrafficLab, type TrafficLab } from "../test/lab.js";
import { createIptablesProxier } from "./iptables-applier.js";
import { buildProxyModel } from "./model.js";
import {
  ensureNfacctCounters,
  KUBE_PROXY_NFACCT_COUNTERS,
  NFACCT_CT_STATE_INVALID_DROPPED,
  NFACCT_LOCALHOST_NODEPORTS_ACCEPTED,
  readNfacctCounters,
} from "./nfacct.js";

const real = await canUseRealComponents(["iptables", "conntrack", "iproute2", "nfacct"]);
const SCRIPT = fileURLToPath(new URL("../test/traffic.mjs", import.meta.url));
/** A daemon of the node's own, listening on every address of the node's namespace, 127.0.0.1 included. */
const NODE_DAEMON_PORT = 9090;

// CVE-2020-8558: localhost NodePorts need route_localnet=1, which also makes 127.0.0.0/8 routable
// from the wire, so a neighbour could reach whatever the node serves on 127.0.0.1. kube-proxy
// writes KUBE-FIREWALL (jumped to from INPUT and OUTPUT) to drop such connections unless they are
// loopback-sourced, replies, or DNATed by the node itself.
describe.runIf(real)("localhost NodePorts and KUBE-FIREWALL (iptables, CVE-2020-8558)", () => {
  let t: TrafficLab;
  beforeAll(async () => {
    t = await startTrafficLab();
    // What kubenode-proxy sets for localhost NodePorts.
    await t.node.exec(["sysctl", "-q", "-w", "net.ipv4.conf.all.route_localnet=1"]);
    t.node.spawn([process.execPath, SCRIPT, "server", "node-daemon", String(NODE_DAEMON_PORT), "9091"]);
    await t.node.waitForListening(NODE_DAEMON_PORT);
    // The neighbour (client2) sends packets for 127.0.0.0/8 to the node, as an attacker on the
    // node's link can: its loopback addresses (and so its local routes for them) are gone, and
    // route_localnet lets such packets leave eth0.
    const c = t.client2;
    for (const k of ["net.ipv4.conf.all.route_localnet=1", "net.ipv4.conf.eth0.route_localnet=1"])
      await c.exec(["sysctl", "-q", "-w", k]);
    await c.exec(["ip", "addr", "flush", "dev", "lo"]);
    await c.exec(["ip", "route", "replace", "127.0.0.0/8", "via", t.node.ip, "dev", "eth0"]);
  });
  afterAll(() => t?.destroy());

  it("a neighbour reaches the node's 127.0.0.1 before any rule is written (the exposure is real here)", async () => {
    expect(await t.request(t.client2, "tcp", "127.0.0.1", NODE_DAEMON_PORT, 1, { timeoutMs: 3000 })).toEqual([
      "node-daemon",
    ]);
  });

  it("with the proxier's rules: localhost NodePorts work locally, the node's 127.0.0.1 is dropped from outside", async () => {
    const { model, errors } = buildProxyModel(labScenario(t));
    expect(errors).toEqual([]);
    const proxier = createIptablesProxier({
      netns: t.node.netns,
      clusterCIDR: "10.244.0.0/16",
      nodeIPs: [t.node.ip],
    });
    await proxier.sync(model);
    const { stdout } = await t.node.exec(["iptables-save", "-t", "filter"]);
    expect(stdout).toMatch(/^-A INPUT -j KUBE-FIREWALL$/m);
    expect(stdout).toMatch(/^-A OUTPUT -j KUBE-FIREWALL$/m);

    // Locally: the NodePort on 127.0.0.1 (DNATed by the node itself) and the node's own daemon.
    expect(await t.request(t.node, "tcp", "127.0.0.1", 30080, 2)).toEqual(["ep2", "ep2"]);
    expect(await t.request(t.node, "tcp", "127.0.0.1", NODE_DAEMON_PORT, 1)).toEqual(["node-daemon"]);
    // From the neighbour: the node's 127.0.0.1 is dropped, for TCP and UDP.
    expect(await t.request(t.client2, "tcp", "127.0.0.1", NODE_DAEMON_PORT, 1, { timeoutMs: 1500 })).toEqual([
      "TIMEOUT",
    ]);
    expect(await t.request(t.client2, "udp", "127.0.0.1", 9091, 1, { timeoutMs: 1500 })).toEqual(["TIMEOUT"]);
    // The NodePort itself stays reachable on the node's address, as NodePorts are meant to be. A
    // neighbour addressing it as 127.0.0.1 is DNATed to the endpoint too: upstream's rule exempts
    // ctstate DNAT, and this reaches nothing the node's address does not already expose.
    expect(await t.request(t.client2, "tcp", t.node.ip, 30080, 1)).toEqual(["ep2"]);
    expect(await t.request(t.client2, "tcp", "127.0.0.1", 30080, 1)).toEqual(["ep2"]);
  });

  it("counts localhost NodePort connections in the nfacct counter, and only those (upstream's metric source)", async () => {
    const netns = { netns: t.node.netns };
    const first = await ensureNfacctCounters(KUBE_PROXY_NFACCT_COUNTERS, netns);
    expect(first).toEqual({ available: [...KUBE_PROXY_NFACCT_COUNTERS], failed: new Map() });
    // A restart finds them there: still available, nothing failed.
    expect(await ensureNfacctCounters(KUBE_PROXY_NFACCT_COUNTERS, netns)).toEqual(first);

    const { model } = buildProxyModel(labScenario(t));
    const proxier = createIptablesProxier({
      netns: t.node.netns,
      clusterCIDR: "10.244.0.0/16",
      nodeIPs: [t.node.ip],
      nfacctCounters: first.available,
    });
    await proxier.sync(model, { full: true });
    const { stdout } = await t.node.exec(["iptables-save"]);
    expect(stdout).toContain(`--nfacct-name  ${NFACCT_CT_STATE_INVALID_DROPPED} -j DROP`);
    expect(stdout).toMatch(
      /-d 127\.0\.0\.0\/8 .*--dport 30080 -m nfacct --nfacct-name {2}localhost_nps_accepted_pkts/,
    );

    const before = (await readNfacctCounters(netns)).get(NFACCT_LOCALHOST_NODEPORTS_ACCEPTED)!.packets;
    expect(await t.request(t.node, "tcp", "127.0.0.1", 30080, 3)).toEqual(["ep2", "ep2", "ep2"]);
    // The node's own address reaches the NodePort through the other rule: not counted.
    expect(await t.request(t.node, "tcp", t.node.ip, 30080, 2)).toEqual(["ep2", "ep2"]);
    const after = (await readNfacctCounters(netns)).get(NFACCT_LOCALHOST_NODEPORTS_ACCEPTED)!.packets;
    // nat rules see the first packet of each connection: one per request.
    expect(after - before).toBe(3);
  });
});
