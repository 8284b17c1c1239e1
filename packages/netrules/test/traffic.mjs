// Traffic helper run with `node traffic.mjs ...` inside a network namespace by the integration tests.
//   server <name> <tcpPort> <udpPort>          answer every TCP connection / UDP datagram with <name>
//   client <tcp|udp> <ip> <port> <count> <timeoutMs> [localPort]
//                                              print a JSON array: a server name, "REFUSED" or "TIMEOUT" per request
//   loop <ip> <port> <timeoutMs>               TCP requests back to back until SIGTERM; prints {ok, failed, errors,
//                                              synRetransmits} (SYNs this namespace's kernel sent again)
import dgram from "node:dgram";
import { readFileSync } from "node:fs";
import net from "node:net";

const [mode, ...args] = process.argv.slice(2);

function tcpRequest(ip, port, timeoutMs) {
  return new Promise((resolve) => {
    const s = net.connect({ host: ip, port: Number(port) });
    let data = "";
    const timer = setTimeout(() => {
      s.destroy();
      resolve("TIMEOUT");
    }, timeoutMs);
    s.on("data", (d) => {
      data += d;
    });
    s.on("end", () => {
      clearTimeout(timer);
      resolve(data.trim() || "EMPTY");
    });
    s.on("error", (e) => {
      clearTimeout(timer);
      resolve(e.code === "ECONNREFUSED" ? "REFUSED" : e.code);
    });
  });
}

function udpRequest(sock, ip, port, timeoutMs) {
  return new Promise((resolve) => {
    const timer = setTimeout(() => {
      sock.removeAllListeners("message");
      resolve("TIMEOUT");
    }, timeoutMs);
    sock.once("message", (m) => {
      clearTimeout(timer);
      resolve(m.toString().trim());
    });
    sock.send("ping", Number(port), ip);
  });
}

/**
 * TcpExt TCPSynRetrans of this network namespace: SYNs (and SYN-ACKs) the kernel had to send
 * again because no answer came within its retransmission timeout (1 s for the first).
 */
function synRetransmits() {
  const lines = readFileSync("/proc/net/netstat", "utf8").split("\n");
  for (let i = 0; i + 1 < lines.length; i++) {
    if (!lines[i].startsWith("TcpExt:")) continue;
    const names = lines[i].split(/\s+/);
    const values = lines[i + 1].split(/\s+/);
    const at = names.indexOf("TCPSynRetrans");
    if (at > 0) return Number(values[at]);
  }
  throw new Error("TcpExt TCPSynRetrans not found in /proc/net/netstat");
}

if (mode === "server") {
  const [name, tcpPort, udpPort] = args;
  // A client that gives up resets its connection; that must not kill the endpoint (an unhandled
  // socket 'error' would, and every later connection to it would be refused).
  net
    .createServer((c) => {
      c.on("error", () => {});
      c.end(`${name}\n`);
    })
    .listen(Number(tcpPort), "::");
  for (const type of ["udp4", "udp6"]) {
    const u = dgram.createSocket({ type, ipv6Only: type === "udp6" });
    u.on("error", () => {});
    u.on("message", (_m, rinfo) => u.send(`${name}\n`, rinfo.port, rinfo.address));
    u.bind(Number(udpPort));
  }
  console.log("ready");
} else if (mode === "client") {
  const [proto, ip, port, count, timeoutMs, localPort] = args;
  const results = [];
  if (proto === "udp") {
    const sock = dgram.createSocket(net.isIPv6(ip) ? "udp6" : "udp4");
    await new Promise((r) => sock.bind(localPort ? Number(localPort) : 0, r));
    for (let i = 0; i < Number(count); i++) results.push(await udpRequest(sock, ip, port, Number(timeoutMs)));
    sock.close();
  } else {
    for (let i = 0; i < Number(count); i++) results.push(await tcpRequest(ip, port, Number(timeoutMs)));
  }
  console.log(JSON.stringify(results));
} else if (mode === "loop") {
  const [ip, port, timeoutMs] = args;
  const synRetransmitsAtStart = synRetransmits();
  let ok = 0;
  let failed = 0;
  const errors = {};
  let stop = false;
  process.on("SIGTERM", () => {
    stop = true;
  });
  console.log("started");
  while (!stop) {
    const r = await tcpRequest(ip, port, Number(timeoutMs));
    if (r.startsWith("ep")) ok++;
    else {
      failed++;
      errors[r] = (errors[r] ?? 0) + 1;
    }
  }
  console.log(
    JSON.stringify({ ok, failed, errors, synRetransmits: synRetransmits() - synRetransmitsAtStart }),
  );
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}
