// The end-to-end tests run the real binary from the dist/ that `npm test` builds first.
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { builtBin } from "@kubenode/vitest-config/built";

export default function setup(): void {
  if (process.env.KUBENODE_TEST === "unit") return;
  builtBin(join(dirname(fileURLToPath(import.meta.url)), ".."));
}
