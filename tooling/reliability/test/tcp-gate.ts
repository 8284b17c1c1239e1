// A loopback TCP proxy in front of the API server that can black-hole traffic: connections stay
// open, nothing is forwarded, nothing is refused. This is what a network partition or a dead
// load balancer looks like to a client, and what only the client's own timeouts can get it out of.
import { connect, createServer, type Server, type Socket } from "node:net";

/** A forwarder on 127.0.0.1 to 127.0.0.1:`targetPort`. */
export interface TcpGate {
  readonly port: number;
  /** Swallows every byte of the open connections and of new ones, keeping them all open. */
  blackhole(): void;
  /**
   * Forwards new connections again. Connections that were black-holed stay swallowed: the bytes
   * they lost broke their TLS streams, so a client must time them out and dial again.
   */
  heal(): void;
  close(): Promise<void>;
}

interface Pair {
  client: Socket;
  upstream: Socket | undefined;
  swallowed: boolean;
}

export async function startTcpGate(targetPort: number): Promise<TcpGate> {
  let blackholed = false;
  const pairs = new Set<Pair>();
  const server: Server = createServer((client) => {
    const pair: Pair = { client, upstream: undefined, swallowed: blackholed };
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      pair.upstream?.destroy();
    };
    client.on("error", end);
    client.on("close", end);
    if (!pair.swallowed) {
      const upstream = connect(targetPort, "127.0.0.1");
      pair.upstream = upstream;
      upstream.on("error", end);
      upstream.on("close", end);
      upstream.on("data", (d: Buffer) => {
        if (!pair.swallowed) client.write(d);
      });
    }
    client.on("data", (d: Buffer) => {
      if (!pair.swallowed) pair.upstream?.write(d);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  const address = server.address();
  if (address === null || typeof address === "string") throw new Error("TCP gate: no port");
  return {
    port: address.port,
    blackhole() {
      blackholed = true;
      for (const p of pairs) p.swallowed = true;
    },
    heal() {
      blackholed = false;
    },
    async close() {
      for (const p of pairs) {
        p.client.destroy();
        p.upstream?.destroy();
      }
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
