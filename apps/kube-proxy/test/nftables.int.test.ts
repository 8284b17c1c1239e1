import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  createRig,
  type ProxyProcess,
  type Rig,
  realComponentsAvailable,
  serviceManifest,
  sliceManifest,
  until,
} from "./rig.js";

const enabled = await realComponentsAvailable();

describe.skipIf(!enabled)("kubenode-proxy end to end, nftables mode", () => {
  let rig: Rig;
  let proxy: ProxyProcess;
  let ep1: string;
  let ep2: string;

  const clusterIP = (name: string) => rig.clusterIP(name);
  const tables = async () => (await rig.node.exec(["nft", "list", "tables"])).stdout;

  beforeAll(async () => {
    rig = await createRig();
    ep1 = rig.lab.host("ep1").ip;
    ep2 = rig.lab.host("ep2").ip;
    proxy = await rig.startHealthyProxy([
      `--kubeconfig=${rig.kubeconfig}`,
      "--hostname-override=node",
      "--proxy-mode=nftables",
      "--cluster-cidr=10.244.0.0/16",
      "--sync-period=3s",
      "--logging-format=json",
    ]);
  });

  afterAll(async () => {
    if (proxy) await proxy.stop();
    await rig?.destroy();
  });

  it("programs table kube-proxy and makes a kubectl-created Service reachable", async () => {
    await rig.kubectl(["apply", "-f", "-"], serviceManifest("web", [{ ip: ep1, nodeName: "ep1" }]));
    const ip = await clusterIP("web");
    expect(await until(`web ${ip}:80`, () => rig.request(ip, 80))).toBe("ep1");
    expect(await until(`web ${ip}:80 via the node`, () => rig.request(ip, 80, rig.client))).toBe("ep1");
    expect(await tables()).toContain("table ip kube-proxy");
    expect((await rig.httpGet("http://127.0.0.1:10249/proxyMode")).body).toBe("nftables");
    // It found its Node object (hostname override) rather than falling back to local addresses.
    expect(proxy.output()).toContain('"msg":"Starting kubenode-proxy"');
    expect(proxy.output()).not.toContain("Node not found yet");
  });

  it("spreads traffic when endpoints are added and serves a NodePort", async () => {
    const ip = await clusterIP("web");
    await rig.kubectl(
      ["apply", "-f", "-"],
      sliceManifest("web", [
        { ip: ep1, nodeName: "ep1" },
        { ip: ep2, nodeName: "ep2" },
      ]),
    );
    await until("both endpoints answering", async () => {
      const seen = new Set<string>();
      for (let i = 0; i < 12; i++) seen.add(await rig.request(ip, 80));
      return seen.size === 2 ? true : undefined;
    });
    await rig.kubectl(
      ["apply", "-f", "-"],
      serviceManifest("np", [{ ip: ep2, nodeName: "ep2" }], {
        type: "NodePort",
        ports: [{ name: "http", port: 80, protocol: "TCP", targetPort: 8080, nodePort: 30090 }],
      }),
    );
    expect(await until("NodePort 30090", () => rig.request(rig.node.ip, 30090, rig.client))).toBe("ep2");
  });

  it("rewrites everything when its table is deleted behind its back", async () => {
    const ip = await clusterIP("np");
    await rig.node.exec(["nft", "delete", "table", "ip", "kube-proxy"]);
    expect(await until("np reachable after the table was deleted", () => rig.request(ip, 80))).toBe("ep2");
    // JSON logs (--logging-format=json): one object per line. Noticed by the canary check of a
    // periodic sync or, when a partial sync ran first and failed on the missing table, by the full
    // resync that follows every failure (both upstream).
    const flushLine = proxy
      .output()
      .split("\n")
      .find((l) => l.includes("canary missing") || l.includes("Failed to sync proxy rules"));
    expect(JSON.parse(flushLine ?? "{}")).toMatchObject({ mode: "nftables" });
  });

  it("--cleanup removes the kube-proxy tables", async () => {
    expect(await proxy.stop()).toBe(0);
    await rig.runProxy(["--cleanup"]);
    expect(await tables()).not.toContain("kube-proxy");
  });
});
