import type { ProxyModel } from "@kubenode/netrules";
import { listen, type RunningServer, sendJson } from "./http-util.js";
import type { Logger } from "./logger.js";
import type { ProxierHealth } from "./proxier-health.js";

interface Entry {
  namespace: string;
  name: string;
  port: number;
  localEndpoints: number;
  servers: RunningServer[];
}

/**
 * Health-check node ports of externalTrafficPolicy=Local load balancers (mirrors kube-proxy's
 * service_health.go): `GET /` on the port answers 200 with the count of ready local endpoints,
 * or 503 when there is none (or kube-proxy itself is unhealthy), so the load balancer only sends
 * traffic to nodes that can serve it.
 */
export interface ServiceHealthServer {
  /** Opens/closes ports and updates counts to match `model`. */
  sync(model: ProxyModel): Promise<void>;
  /** The ports being served, by "namespace/name". */
  ports(): Map<string, number>;
  close(): Promise<void>;
}

/** Creates the server. `hosts`: addresses to listen on ("" = all). */
export function createServiceHealthServer(options: {
  hosts?: readonly string[];
  health: ProxierHealth;
  log: Logger;
}): ServiceHealthServer {
  const hosts = options.hosts && options.hosts.length > 0 ? options.hosts : [""];
  const entries = new Map<string, Entry>();

  const open = async (e: Entry) => {
    for (const host of hosts) {
      try {
        const server = await listen(host, e.port, (_req, res) => {
          const healthy = options.health.status().healthy;
          const code = e.localEndpoints > 0 && healthy ? 200 : 503;
          sendJson(
            res,
            code,
            {
              service: { namespace: e.namespace, name: e.name },
              localEndpoints: e.localEndpoints,
              serviceProxyHealthy: healthy,
            },
            { "X-Load-Balancing-Endpoint-Weight": String(e.localEndpoints) },
          );
        });
        e.servers.push(server);
      } catch (err) {
        options.log.error("Failed to start healthcheck node port", err, {
          service: `${e.namespace}/${e.name}`,
          port: e.port,
        });
      }
    }
  };
  const closeEntry = async (e: Entry) => {
    await Promise.all(e.servers.map((s) => s.close()));
    e.servers = [];
  };

  return {
    async sync(model) {
      const desired = new Map<
        string,
        { namespace: string; name: string; port: number; local: Set<string> }
      >();
      for (const sp of model.servicePorts) {
        if (sp.healthCheckNodePort === 0) continue;
        const key = `${sp.namespace}/${sp.serviceName}`;
        let d = desired.get(key);
        if (!d) {
          d = {
            namespace: sp.namespace,
            name: sp.serviceName,
            port: sp.healthCheckNodePort,
            local: new Set(),
          };
          desired.set(key, d);
        }
        // Mirrors LocalReadyEndpoints: ready endpoints on this node, counted once per address.
        for (const e of sp.endpoints) if (e.local && e.ready) d.local.add(e.ip);
      }
      for (const [key, e] of entries) {
        const d = desired.get(key);
        if (!d || d.port !== e.port) {
          await closeEntry(e);
          entries.delete(key);
        }
      }
      for (const [key, d] of desired) {
        let e = entries.get(key);
        if (!e) {
          e = { namespace: d.namespace, name: d.name, port: d.port, localEndpoints: 0, servers: [] };
          entries.set(key, e);
        }
        e.localEndpoints = d.local.size;
        if (e.servers.length === 0) await open(e);
      }
    },
    ports: () => new Map([...entries].map(([k, e]) => [k, e.port])),
    async close() {
      for (const e of entries.values()) await closeEntry(e);
      entries.clear();
    },
  };
}
