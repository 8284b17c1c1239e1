#!/usr/bin/env node
import { copyFile } from "node:fs/promises";
import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { startApiServer } from "./server.js";

const USAGE = `Usage: kubenode-apiserver [options]

Runs the kubenode Kubernetes API server simulator in the foreground.

Options:
  --port <n>               TCP port on 127.0.0.1 (default 6443; 0 picks a free port)
  --kubeconfig <path>      where to write the admin kubeconfig (default ./kubeconfig)
  --node <name>            also write kubeconfig-<name> for identity system:node:<name> (repeatable)
  --no-tls                 serve plain HTTP (tokens optional, full access without) instead of HTTPS
  --service-account-volumes  add the projected kube-api-access volume to new pods (SA admission)
  --watch-cache-capacity <n>  watch events kept per resource (default 5000); older
                           resourceVersions get 410 Expired
  --disable <controller>   scheduler | endpointSlices | nodeLifecycle | namespaces |
                           deployments | daemonSets | statefulSets | jobs | cronJobs |
                           certificates
                           (repeatable)
  --help                   show this help

Signals: SIGUSR2 expires every resource's watch history (open watches end; resuming from an
older resourceVersion gets 410 Expired, as after an etcd compaction). SIGINT/SIGTERM stop.
`;

async function main(): Promise<void> {
  let args: ReturnType<typeof parse>;
  function parse() {
    return parseArgs({
      options: {
        port: { type: "string", default: "6443" },
        kubeconfig: { type: "string", default: "kubeconfig" },
        node: { type: "string", multiple: true, default: [] },
        "no-tls": { type: "boolean", default: false },
        "service-account-volumes": { type: "boolean", default: false },
        "watch-cache-capacity": { type: "string", default: "5000" },
        disable: { type: "string", multiple: true, default: [] },
        help: { type: "boolean", default: false },
      },
      strict: true,
      allowPositionals: false,
    });
  }
  try {
    args = parse();
  } catch (e) {
    process.stderr.write(`kubenode-apiserver: ${(e as Error).message}\n\n${USAGE}`);
    process.exit(2);
  }
  const v = args.values;
  if (v.help) {
    process.stdout.write(USAGE);
    return;
  }
  const port = Number(v.port);
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    process.stderr.write(`kubenode-apiserver: --port must be an integer 0-65535, got "${v.port}"\n`);
    process.exit(2);
  }
  const capacity = Number(v["watch-cache-capacity"]);
  if (!Number.isInteger(capacity) || capacity < 1) {
    process.stderr.write(
      `kubenode-apiserver: --watch-cache-capacity must be a positive integer, got "${v["watch-cache-capacity"]}"\n`,
    );
    process.exit(2);
  }
  const known = [
    "scheduler",
    "endpointSlices",
    "nodeLifecycle",
    "namespaces",
    "deployments",
    "daemonSets",
    "statefulSets",
    "jobs",
    "cronJobs",
    "certificates",
  ];
  const controllers: Record<string, boolean> = {};
  for (const d of v.disable ?? []) {
    if (!known.includes(d)) {
      process.stderr.write(
        `kubenode-apiserver: unknown controller "${d}" for --disable (one of ${known.join(", ")})\n`,
      );
      process.exit(2);
    }
    controllers[d] = false;
  }
  const server = await startApiServer({
    port,
    tls: !v["no-tls"],
    controllers,
    serviceAccountTokenVolume: v["service-account-volumes"] === true,
    watchHistoryPerResource: capacity,
  });
  const out = resolve(v.kubeconfig ?? "kubeconfig");
  await copyFile(server.kubeconfigPath, out);
  process.stdout.write(`kubenode-apiserver listening on ${server.url}\nadmin kubeconfig: ${out}\n`);
  for (const n of v.node ?? []) {
    const p = await server.kubeconfigFor(`system:node:${n}`);
    const dest = resolve(`${out}-${n}`);
    await copyFile(p, dest);
    process.stdout.write(`node ${n} kubeconfig: ${dest}\n`);
  }
  const shutdown = (): void => {
    void server.stop().then(() => process.exit(0));
  };
  process.on("SIGUSR2", () => {
    const rv = server.expireWatchHistory();
    process.stdout.write(`watch history expired: resuming below resourceVersion ${rv} is 410 Expired\n`);
  });
  process.once("SIGINT", shutdown);
  process.once("SIGTERM", shutdown);
}

main().catch((e) => {
  process.stderr.write(`kubenode-apiserver: ${(e as Error).message}\n`);
  process.exit(1);
});
