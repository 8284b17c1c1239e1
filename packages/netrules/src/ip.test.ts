import { describe, expect, it } from "vitest";
import { cidrContains, parseCidr, parseIP } from "./ip.js";

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
