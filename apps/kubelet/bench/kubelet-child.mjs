// The kubelet core (createKubelet from the built package) in its own process, so benchmarks can
// read its RSS and CPU from /proc. Plain JavaScript: Node's TypeScript stripping would add its own
// memory to the numbers. Settings come as one JSON argument; prints "ready" when started and its
// memory usage as one JSON line on SIGUSR2.
import { createKubeClient, loadKubeConfig } from "@kubenode/kube";
import { createKubelet } from "../dist/index.js";

const s = JSON.parse(process.argv[2] ?? "{}");
const kubelet = createKubelet({
  nodeName: s.nodeName,
  client: createKubeClient(loadKubeConfig({ path: s.kubeconfig })),
  criEndpoint: s.criEndpoint,
  podLogsDir: s.podLogsDir,
  nodeIPs: ["127.0.0.1"],
});
await kubelet.start();
process.stdout.write("ready\n");
process.on("SIGUSR2", () => process.stdout.write(`${JSON.stringify(process.memoryUsage())}\n`));
process.on("SIGTERM", () => void kubelet.stop().then(() => process.exit(0)));
