import { execFileSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import {
  createHostAddressProvider,
  createHostMachineInfoProvider,
  defaultRouteInterface,
  defaultRouteInterface6,
  goArch,
  parseOsRelease,
  readMemTotalBytes,
} from "./host.js";

const run = (cmd: string, args: string[]) => execFileSync(cmd, args, { encoding: "utf8" }).trim();

describe("host machine info (checked against independent tools)", () => {
  it("matches nproc, free, df and uname", async () => {
    const info = await createHostMachineInfoProvider({ rootDir: "/" }).machineInfo();
    expect(info.cpuCores).toBe(Number(run("nproc", [])));
    const freeTotal = Number(run("free", ["-b"]).split("\n")[1]!.trim().split(/\s+/)[1]);
    expect(info.memoryBytes).toBe(freeTotal);
    const dfSize = Number(run("df", ["-B1", "--output=size", "/"]).split("\n")[1]!.trim());
    expect(info.ephemeralStorageBytes).toBe(dfSize);
    expect(info.kernelVersion).toBe(run("uname", ["-r"]));
    const machine = run("uname", ["-m"]);
    expect(info.architecture).toBe({ x86_64: "amd64", aarch64: "arm64" }[machine] ?? machine);
    expect(info.operatingSystem).toBe(run("uname", ["-s"]).toLowerCase());
    expect(info.bootID).toMatch(/^[0-9a-f-]{36}$/);
    expect(info.osImage).toBe(parseOsRelease(readFileSync("/etc/os-release", "utf8")));
    expect(info.osImage.length).toBeGreaterThan(0);
  });

  it("parses the pieces it reads", () => {
    expect(readMemTotalBytes("MemTotal:       16302532 kB\nMemFree: 1 kB\n")).toBe(16302532 * 1024);
    expect(() => readMemTotalBytes("nothing")).toThrow(/MemTotal/);
    expect(parseOsRelease('NAME="Debian"\nPRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\n')).toBe(
      "Debian GNU/Linux 12 (bookworm)",
    );
    expect(goArch("x64")).toBe("amd64");
    expect(goArch("ppc64")).toBe("ppc64le");
    const routes =
      "Iface\tDestination\tGateway\tFlags\tRefCnt\tUse\tMetric\tMask\n" +
      "eth1\t0011A8C0\t00000000\t0001\t0\t0\t0\t00FFFFFF\n" +
      "eth0\t00000000\t0100A8C0\t0003\t0\t0\t0\t00000000\n";
    expect(defaultRouteInterface(routes)).toBe("eth0");
    const routes6 =
      "fd000000000000000000000000000000 40 00000000000000000000000000000000 00 00000000000000000000000000000000 00000100 00000001 00000000 00000001   eth1\n" +
      "00000000000000000000000000000000 00 00000000000000000000000000000000 00 fe800000000000000000000000000001 00000400 00000003 00000000 00000003   eth2\n";
    expect(defaultRouteInterface6(routes6)).toBe("eth2");
    expect(defaultRouteInterface6("")).toBeUndefined();
  });
});

describe("host addresses", () => {
  it("uses --node-ip first, then Hostname", async () => {
    const p = createHostAddressProvider({ nodeName: "node-a", nodeIPs: ["10.0.0.5", "fd00::5"] });
    expect(await p.addresses()).toEqual([
      { type: "InternalIP", address: "10.0.0.5" },
      { type: "InternalIP", address: "fd00::5" },
      { type: "Hostname", address: "node-a" },
    ]);
  });

  it("uses the hostname when it is an IP, else DNS or the default-route interface", async () => {
    expect(await createHostAddressProvider({ nodeName: "n", hostname: "192.0.2.7" }).addresses()).toEqual([
      { type: "InternalIP", address: "192.0.2.7" },
      { type: "Hostname", address: "192.0.2.7" },
    ]);
    const addrs = await createHostAddressProvider({ nodeName: "no-such-host.invalid" }).addresses();
    expect(addrs.at(-1)).toEqual({ type: "Hostname", address: "no-such-host.invalid" });
    const iface = defaultRouteInterface();
    if (iface) {
      const ip = run("ip", ["-4", "-o", "addr", "show", "dev", iface]).split(/\s+/)[3]?.split("/")[0];
      expect(addrs[0]).toEqual({ type: "InternalIP", address: ip });
    }
  });

  it("refuses bad --node-ip values", () => {
    expect(() => createHostAddressProvider({ nodeName: "n", nodeIPs: ["10.0.0.300"] })).toThrow(
      /not an IP address/,
    );
    expect(() => createHostAddressProvider({ nodeName: "n", nodeIPs: ["10.0.0.1", "10.0.0.2"] })).toThrow(
      /dual-stack/,
    );
  });
});
