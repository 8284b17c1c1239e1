import type { ProxyModelInput } from "../model.js";
import { ep, slice, svc, terminatingEp } from "./fixtures.js";

/** A node-a view of a cluster exercising every feature once. Node IP 192.168.0.2. */
export function featureScenario(): ProxyModelInput {
  return {
    nodeName: "node-a",
    services: [
      // Plain ClusterIP, two endpoints.
      svc("ns1", "svc1", { clusterIP: "172.30.0.41", ports: [{ name: "p80", port: 80 }] }),
      // NodePort with externalTrafficPolicy Local and one local endpoint.
      svc("ns2", "svc2", {
        type: "NodePort",
        clusterIP: "172.30.0.42",
        externalTrafficPolicy: "Local",
        externalIPs: ["192.168.99.22"],
        ports: [{ name: "p80", port: 80, nodePort: 30002 }],
      }),
      // LoadBalancer with source ranges.
      svc(
        "ns3",
        "svc3",
        {
          type: "LoadBalancer",
          clusterIP: "172.30.0.43",
          loadBalancerSourceRanges: ["203.0.113.0/25"],
          ports: [{ name: "p80", port: 80, nodePort: 30003 }],
        },
        ["5.6.7.8"],
      ),
      // No endpoints.
      svc("ns4", "svc4", { clusterIP: "172.30.0.44", ports: [{ name: "p80", port: 80 }] }),
      // ClientIP affinity, UDP.
      svc("ns5", "svc5", {
        clusterIP: "172.30.0.45",
        sessionAffinity: "ClientIP",
        sessionAffinityConfig: { clientIP: { timeoutSeconds: 300 } },
        ports: [{ name: "dns", port: 53, protocol: "UDP" }],
      }),
      // internalTrafficPolicy Local with no local endpoint.
      svc("ns6", "svc6", { clusterIP: "172.30.0.46", internalTrafficPolicy: "Local", ports: [{ port: 80 }] }),
      // Only terminating endpoints.
      svc("ns7", "svc7", { clusterIP: "172.30.0.47", ports: [{ port: 80 }] }),
      // NodePort ETP Local with no local endpoint.
      svc("ns8", "svc8", {
        type: "NodePort",
        clusterIP: "172.30.0.48",
        externalTrafficPolicy: "Local",
        ports: [{ port: 80, nodePort: 30008 }],
      }),
    ],
    endpointSlices: [
      slice("ns1", "svc1", [ep("10.180.0.1"), ep("10.180.1.1")], [{ name: "p80", port: 80 }]),
      slice(
        "ns2",
        "svc2",
        [ep("10.180.0.2", "node-a"), ep("10.180.1.2", "node-b")],
        [{ name: "p80", port: 8080 }],
      ),
      slice("ns3", "svc3", [ep("10.180.0.3")], [{ name: "p80", port: 80 }]),
      slice(
        "ns5",
        "svc5",
        [ep("10.180.0.5"), ep("10.180.1.5"), ep("10.180.2.5")],
        [{ name: "dns", port: 53, protocol: "UDP" }],
      ),
      slice("ns6", "svc6", [ep("10.180.1.6", "node-b")], [{ port: 80 }]),
      slice("ns7", "svc7", [terminatingEp("10.180.0.7")], [{ port: 80 }]),
      slice("ns8", "svc8", [ep("10.180.1.8", "node-b")], [{ port: 80 }]),
    ],
  };
}
