import { isIPv6 } from "node:net";

/** An IP family as Kubernetes names it. */
export type IPFamily = "IPv4" | "IPv6";

/**
 * True for dotted-quad IPv4 text in canonical form: four decimal octets 0-255 without leading
 * zeros (ambiguous, octal to some parsers; Kubernetes rejects them for new objects). A character
 * loop: this runs once per endpoint address, 100k times per full sync at 10k services.
 */
function isCanonicalIPv4(text: string): boolean {
  const n = text.length;
  if (n < 7 || n > 15) return false;
  let octets = 0;
  let i = 0;
  while (i <= n) {
    const start = i;
    let value = 0;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c < 48 || c > 57) break;
      value = value * 10 + (c - 48);
      i++;
    }
    const digits = i - start;
    if (digits === 0 || digits > 3 || value > 255 || (digits > 1 && text.charCodeAt(start) === 48))
      return false;
    octets++;
    if (i === n) return octets === 4;
    if (text.charCodeAt(i) !== 46 || octets === 4) return false;
    i++;
  }
  return false;
}

/** Parses an IP address; returns its family and canonical text (RFC 5952 for IPv6), or undefined. */
export function parseIP(text: string): { family: IPFamily; ip: string } | undefined {
  if (typeof text !== "string") return undefined;
  if (isCanonicalIPv4(text)) return { family: "IPv4", ip: text };
  if (isIPv6(text) && !text.includes("%")) return { family: "IPv6", ip: canonicalIPv6(text) };
  return undefined;
}

/**
 * Parses an IP address the way kube-proxy does (k8s.io/utils/net ParseIPSloppy): like
 * {@link parseIP}, but IPv4 octets may carry leading zeros, read as decimal ("010.096.0.1" is
 * 10.96.0.1), as Go's parser did before 1.17 and as objects stored back then may still hold.
 */
export function parseIPSloppy(text: string): { family: IPFamily; ip: string } | undefined {
  const strict = parseIP(text);
  if (strict !== undefined || typeof text !== "string") return strict;
  const m = LEGACY_IPV4.exec(text);
  if (!m) return undefined;
  const octets = [m[1]!, m[2]!, m[3]!, m[4]!].map(Number);
  if (octets.some((o) => o > 255)) return undefined;
  return { family: "IPv4", ip: octets.join(".") };
}

/** Four groups of decimal digits: ParseIPSloppy takes any number of digits while the value fits. */
const LEGACY_IPV4 = /^(\d+)\.(\d+)\.(\d+)\.(\d+)$/;

/**
 * The canonical text of `text` if it is an address of `family`, else undefined. Same rules as
 * {@link parseIP}, without allocating for IPv4.
 */
export function canonicalIP(text: string, family: IPFamily): string | undefined {
  if (typeof text !== "string") return undefined;
  if (family === "IPv4") return isCanonicalIPv4(text) ? text : undefined;
  return isIPv6(text) && !text.includes("%") ? canonicalIPv6(text) : undefined;
}

function ipv6Groups(text: string): number[] {
  let s = text;
  // A trailing dotted quad (::ffff:1.2.3.4) becomes two hex groups.
  const lastColon = s.lastIndexOf(":");
  const tail = s.slice(lastColon + 1);
  if (tail.includes(".")) {
    const o = tail.split(".").map(Number) as [number, number, number, number];
    s = `${s.slice(0, lastColon + 1)}${((o[0] << 8) | o[1]).toString(16)}:${((o[2] << 8) | o[3]).toString(16)}`;
  }
  const [head = "", rest] = s.split("::") as [string, string | undefined];
  const h = head === "" ? [] : head.split(":").map((g) => Number.parseInt(g, 16));
  const t = rest === undefined || rest === "" ? [] : rest.split(":").map((g) => Number.parseInt(g, 16));
  const fill = rest === undefined ? 0 : 8 - h.length - t.length;
  return [...h, ...new Array<number>(fill).fill(0), ...t];
}

function canonicalIPv6(text: string): string {
  const g = ipv6Groups(text);
  // Longest run of zero groups (length >= 2), first one wins on ties (RFC 5952 4.2.3).
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen && j - i >= 2) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = g.map((x) => x.toString(16));
  if (bestStart < 0) return hex.join(":");
  return `${hex.slice(0, bestStart).join(":")}::${hex.slice(bestStart + bestLen).join(":")}`;
}

/** A parsed CIDR. `text` is canonical ("10.0.0.0/8"). */
export interface Cidr {
  family: IPFamily;
  text: string;
  base: bigint;
  prefixLength: number;
}

function toBigInt(family: IPFamily, ip: string): bigint {
  if (family === "IPv4") {
    return ip.split(".").reduce((acc, o) => (acc << 8n) | BigInt(Number(o)), 0n);
  }
  return ipv6Groups(ip).reduce((acc, x) => (acc << 16n) | BigInt(x), 0n);
}

function fromBigInt(family: IPFamily, v: bigint): string {
  if (family === "IPv4") {
    return [24n, 16n, 8n, 0n].map((s) => String((v >> s) & 255n)).join(".");
  }
  const groups: string[] = [];
  for (let s = 112n; s >= 0n; s -= 16n) groups.push(((v >> s) & 0xffffn).toString(16));
  return canonicalIPv6(groups.join(":"));
}

/**
 * Parses "a.b.c.d/n" or "x::/n" (host bits are masked off); undefined when invalid. Like
 * kube-proxy's ParseCIDRSloppy, IPv4 octets may carry leading zeros ("010.0.0.0/8").
 */
export function parseCidr(text: string): Cidr | undefined {
  if (typeof text !== "string") return undefined;
  const slash = text.indexOf("/");
  if (slash < 0) return undefined;
  const ip = parseIPSloppy(text.slice(0, slash));
  const lenText = text.slice(slash + 1);
  if (!ip || !/^\d{1,3}$/.test(lenText)) return undefined;
  const prefixLength = Number(lenText);
  const bits = ip.family === "IPv4" ? 32 : 128;
  if (prefixLength > bits) return undefined;
  const shift = BigInt(bits - prefixLength);
  const base = (toBigInt(ip.family, ip.ip) >> shift) << shift;
  return { family: ip.family, base, prefixLength, text: `${fromBigInt(ip.family, base)}/${prefixLength}` };
}

/** True when `ip` (canonical text of the same family) lies inside `cidr`. */
export function cidrContains(cidr: Cidr, ip: string): boolean {
  const p = parseIP(ip);
  if (!p || p.family !== cidr.family) return false;
  const bits = cidr.family === "IPv4" ? 32 : 128;
  const shift = BigInt(bits - cidr.prefixLength);
  return toBigInt(p.family, p.ip) >> shift === cidr.base >> shift;
}

/** "ip:port", or "[ip]:port" for IPv6 (Go's net.JoinHostPort). */
export function joinHostPort(ip: string, port: number): string {
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}
