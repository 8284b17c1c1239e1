import { describe, expect, it } from "vitest";
import { cidrContains, parseCidr, parseIP, parseIPSloppy } from "./ip.js";

describe("ip helpers", () => {
  it("canonicalises IPv6 and rejects junk", () => {
    expect(parseIP("FD00:0:0:0:0:0:0:A")).toEqual({ family: "IPv6", ip: "fd00::a" });
    expect(parseIP("2001:db8:0:1:0:0:0:1")!.ip).toBe("2001:db8:0:1::1");
    expect(parseIP("::ffff:1.2.3.4")!.ip).toBe("::ffff:102:304");
    expect(parseIP("10.0.0.01")).toBeUndefined();
    expect(parseIP("1.2.3")).toBeUndefined();
  });
  it("parses CIDRs and tests membership", () => {
    const c = parseCidr("10.1.2.3/8")!;
    expect(c.text).toBe("10.0.0.0/8");
    expect(cidrContains(c, "10.200.0.1")).toBe(true);
    expect(cidrContains(c, "11.0.0.1")).toBe(false);
    expect(parseCidr("fd00::1/64")!.text).toBe("fd00::/64");
    expect(parseCidr("10.0.0.0/33")).toBeUndefined();
  });
  it("accepts only canonical dotted-quad IPv4", () => {
    for (const ok of ["0.0.0.0", "10.0.0.1", "255.255.255.255", "192.168.100.200", "1.2.3.4"]) {
      expect(parseIP(ok), ok).toEqual({ family: "IPv4", ip: ok });
    }
    for (const bad of [
      "256.0.0.1",
      "1.2.3.4.5",
      "1.2.3.",
      ".1.2.3",
      "1..2.3",
      "01.2.3.4",
      "1.2.3.04",
      "1.2.3.4 ",
      "1.2.3.a",
      "1234.1.1.1",
      "",
      "1.2.3.-1",
    ]) {
      expect(parseIP(bad), bad).toBeUndefined();
    }
  });
});

describe("parseIPSloppy (k8s.io/utils/net ParseIPSloppy)", () => {
  it("reads legacy leading-zero IPv4 octets as decimal", () => {
    expect(parseIPSloppy("010.096.0.1")).toEqual({ family: "IPv4", ip: "10.96.0.1" });
    expect(parseIPSloppy("1.2.3.04")).toEqual({ family: "IPv4", ip: "1.2.3.4" });
    expect(parseIPSloppy("0000010.0.0.1")).toEqual({ family: "IPv4", ip: "10.0.0.1" });
    expect(parseIPSloppy("10.96.0.1")).toEqual({ family: "IPv4", ip: "10.96.0.1" });
    expect(parseIPSloppy("FD00::A")).toEqual({ family: "IPv6", ip: "fd00::a" });
  });
  it("still rejects what is not an address", () => {
    for (const bad of [
      "0256.0.0.1",
      "1.2.3",
      "1.2.3.4.5",
      "1.2.3.4 ",
      " 1.2.3.4",
      "1.2.3.a",
      "",
      "0x1.2.3.4",
    ]) {
      expect(parseIPSloppy(bad), bad).toBeUndefined();
    }
  });
  it("is what CIDRs are parsed with", () => {
    expect(parseCidr("010.0.0.0/08")!.text).toBe("10.0.0.0/8");
  });
});
