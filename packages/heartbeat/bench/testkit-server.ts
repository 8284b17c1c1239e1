// The testkit API server simulator in its own process for fleet.ts (`--server testkit`).
// Prints `{"kubeconfigPath":...}` on its first stdout line.
import { startApiServer } from "@kubenode/testkit";

const server = await startApiServer({
  controllers: { scheduler: false, endpointSlices: false, nodeLifecycle: false, namespaces: false },
  maxRequestRecords: 1_000,
});
process.stdout.write(`${JSON.stringify({ kubeconfigPath: server.kubeconfigPath })}\n`);
process.on("SIGTERM", () => {
  void server.stop().finally(() => process.exit(0));
});
