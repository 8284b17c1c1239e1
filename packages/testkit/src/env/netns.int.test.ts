import { execFileSync } from "node:child_process";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canUseRealComponents } from "./host-packages.js";
import { createNetworkLab, type NetworkLab } from "./netns.js";

const real = await canUseRealComponents(["iproute2", "busybox-static"]);
const netnsNames = () => execFileSync("ip", ["netns", "list"], { encoding: "utf8" });

describe.runIf(real)("createNetworkLab", () => {
  let lab: NetworkLab;
  beforeAll(async () => {
    lab = await createNetworkLab({ hosts: ["client", "router", "server"], ipv6: true, gateway: "router" });
  });
  afterAll(() => lab?.destroy());

  it("carries TCP between two namespaces over IPv4 and IPv6", async () => {
    const server = lab.host("server");
    // busybox nc -ll answers every connection with the output of `echo hello`
    server.spawn(["busybox", "nc", "-ll", "-p", "8080", "-e", "echo", "hello"]);
    await server.waitForListening(8080);
    const v4 = await lab.host("client").exec(["busybox", "nc", "-w", "2", server.ip, "8080"]);
    expect(v4.stdout).toBe("hello\n");
    const v6 = await lab.host("client").exec(["busybox", "nc", "-w", "2", server.ip6!, "8080"]);
    expect(v6.stdout).toBe("hello\n");
  });

  it("routes through the gateway host", async () => {
    const route = await lab.host("client").exec(["ip", "route", "show", "default"]);
    expect(route.stdout).toContain(`via ${lab.host("router").ip}`);
  });

  it("keeps every interface off the host's own network namespace", () => {
    const hostLinks = execFileSync("ip", ["-o", "link", "show"], { encoding: "utf8" });
    for (const h of lab.hosts) expect(netnsNames()).toContain(h.netns);
    expect(hostLinks).not.toMatch(/\bp0@|\bbr0:/);
  });

  it("rejects unknown hosts and bad names with a clear error", async () => {
    expect(() => lab.host("nope")).toThrow(/no lab host "nope"/);
    await expect(createNetworkLab({ hosts: ["Bad Name"] })).rejects.toThrow(
      /invalid lab host name "Bad Name"/,
    );
  });

  it("removes every namespace and process on destroy", async () => {
    const other = await createNetworkLab({ hosts: ["a", "b"] });
    const sleeper = other.host("a").spawn(["busybox", "sleep", "300"]);
    await other.destroy();
    for (const h of other.hosts) expect(netnsNames()).not.toContain(h.netns);
    expect(sleeper.exitCode !== null || sleeper.signalCode !== null).toBe(true);
  });
});

describe.runIf(real)("LabHost.bridgeHostPort", () => {
  it("reaches a server on the host's loopback from inside a namespace, and can take it down and up", async () => {
    const { createServer } = await import("node:net");
    const server = createServer((c) => c.end("from the host\n"));
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const port = (server.address() as { port: number }).port;
    const lab = await createNetworkLab({ hosts: ["node"] });
    try {
      const node = lab.host("node");
      const bridge = await node.bridgeHostPort(port);
      const ask = () =>
        node.exec(["busybox", "nc", "-w", "2", "127.0.0.1", String(port)]).then((r) => r.stdout);
      expect(await ask()).toBe("from the host\n");
      await bridge.pause();
      expect(await ask()).toBe("");
      await bridge.resume();
      expect(await ask()).toBe("from the host\n");
    } finally {
      await lab.destroy();
      server.close();
    }
  });
});

describe.runIf(real)("LabHost.exposePort", () => {
  it("reaches a server listening inside a namespace from the host's loopback, dialling when a connection comes", async () => {
    const lab = await createNetworkLab({ hosts: ["node"] });
    try {
      const node = lab.host("node");
      // Exposed before anything listens: the forwarder dials per connection.
      const exposed = await node.exposePort(7070, node.ip);
      const { connect } = await import("node:net");
      const ask = () =>
        new Promise<string>((resolve) => {
          let got = "";
          const s = connect({ host: "127.0.0.1", port: exposed.port });
          s.on("data", (d: Buffer) => {
            got += d.toString();
          });
          s.on("close", () => resolve(got));
          s.on("error", () => resolve(got));
          s.end("ping\n");
        });
      expect(await ask()).toBe("");
      // busybox nc answers one connection (dialled at the node IP) with the output of its -e program.
      const server = node.spawn(["busybox", "nc", "-l", "-p", "7070", "-e", "echo", "from the namespace"]);
      await node.waitForListening(7070);
      expect(await ask()).toBe("from the namespace\n");
      server.kill("SIGKILL");
      await exposed.close();
      expect(await ask()).toBe("");
    } finally {
      await lab.destroy();
    }
  });

  it("refuses an address that is not an IP", async () => {
    const lab = await createNetworkLab({ hosts: ["node"] });
    try {
      await expect(lab.host("node").exposePort(10250, "kubelet.example")).rejects.toThrow(
        'exposePort: "kubelet.example" is not an IP address',
      );
    } finally {
      await lab.destroy();
    }
  });
});
