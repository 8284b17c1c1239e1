import type { EndpointLike, EndpointSliceLike, ServiceLike, ServicePortLike } from "../types.js";

/** Builds a Service in the shape the API returns. */
export function svc(
  ns: string,
  name: string,
  spec: NonNullable<ServiceLike["spec"]> & { ports?: ServicePortLike[] },
  lbIngress: string[] = [],
): ServiceLike {
  return {
    metadata: { namespace: ns, name },
    spec: { type: "ClusterIP", ...spec },
    status: { loadBalancer: { ingress: lbIngress.map((ip) => ({ ip })) } },
  };
}

/** Builds an EndpointSlice for service ns/name. */
export function slice(
  ns: string,
  service: string,
  endpoints: EndpointLike[],
  ports: { name?: string; port: number; protocol?: string }[],
  addressType = "IPv4",
  sliceName = `${service}-${addressType.toLowerCase()}`,
): EndpointSliceLike {
  return {
    metadata: { namespace: ns, name: sliceName, labels: { "kubernetes.io/service-name": service } },
    addressType,
    endpoints,
    ports,
  };
}

/** A ready endpoint on a node. */
export function ep(ip: string, nodeName = "node-b", extra: Partial<EndpointLike> = {}): EndpointLike {
  return {
    addresses: [ip],
    conditions: { ready: true, serving: true, terminating: false },
    nodeName,
    ...extra,
  };
}

/** A terminating endpoint that still serves. */
export function terminatingEp(ip: string, nodeName = "node-b"): EndpointLike {
  return { addresses: [ip], conditions: { ready: false, serving: true, terminating: true }, nodeName };
}
