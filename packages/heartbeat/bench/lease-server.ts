// A minimal HTTPS lease endpoint (GET/POST/PUT with resourceVersion conflicts) run as a child
// process by fleet.ts, so the benchmark can measure the fleet's own cost apart from any API
// server implementation. Prints `{"url":...,"caPem":...}` on its first stdout line.
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import https from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";

const dir = mkdtempSync(join(tmpdir(), "lease-bench-"));
execFileSync(
  "openssl",
  [
    "req",
    "-x509",
    "-newkey",
    "ec",
    "-pkeyopt",
    "ec_paramgen_curve:prime256v1",
    "-nodes",
    "-days",
    "1",
    "-subj",
    "/CN=127.0.0.1",
    "-addext",
    "subjectAltName=IP:127.0.0.1",
    "-keyout",
    join(dir, "key.pem"),
    "-out",
    join(dir, "cert.pem"),
  ],
  { stdio: "ignore" },
);
const key = readFileSync(join(dir, "key.pem"), "utf8");
const cert = readFileSync(join(dir, "cert.pem"), "utf8");
rmSync(dir, { recursive: true, force: true });

let rv = 1;
const leases = new Map<
  string,
  { metadata: { name: string; resourceVersion?: string }; [k: string]: unknown }
>();
const re = /^\/apis\/coordination\.k8s\.io\/v1\/namespaces\/[^/]+\/leases(?:\/([^/?]+))?/;
const send = (res: import("node:http").ServerResponse, code: number, body: unknown) => {
  const s = JSON.stringify(body);
  res.writeHead(code, { "content-type": "application/json", "content-length": Buffer.byteLength(s) });
  res.end(s);
};
const status = (code: number, reason: string) => ({
  kind: "Status",
  status: "Failure",
  code,
  reason,
  message: reason,
});

const server = https.createServer({ key, cert, keepAliveTimeout: 60_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const m = re.exec(req.url ?? "");
    if (!m) return send(res, 404, status(404, "NotFound"));
    const name = m[1];
    if (req.method === "GET" && name) {
      const l = leases.get(name);
      return l ? send(res, 200, l) : send(res, 404, status(404, "NotFound"));
    }
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    if (req.method === "POST") {
      if (leases.has(body.metadata.name)) return send(res, 409, status(409, "AlreadyExists"));
      body.metadata.resourceVersion = String(++rv);
      leases.set(body.metadata.name, body);
      return send(res, 201, body);
    }
    if (req.method === "PUT" && name) {
      const cur = leases.get(name);
      if (!cur) return send(res, 404, status(404, "NotFound"));
      if (cur.metadata.resourceVersion !== body.metadata.resourceVersion)
        return send(res, 409, status(409, "Conflict"));
      body.metadata.resourceVersion = String(++rv);
      leases.set(name, body);
      return send(res, 200, body);
    }
    send(res, 405, status(405, "MethodNotAllowed"));
  });
});
server.listen(0, "127.0.0.1", () => {
  const addr = server.address() as import("node:net").AddressInfo;
  process.stdout.write(`${JSON.stringify({ url: `https://127.0.0.1:${addr.port}`, caPem: cert })}\n`);
});
process.on("SIGTERM", () => process.exit(0));
