import { kubenodeVitest } from "@kubenode/vitest-config";
import { mergeConfig } from "vitest/config";

// One test file at a time: a file that starts a containerd or a network lab first sweeps what dead
// owners left, and would race the SIGKILL + --down test for the killed demo's leftovers.
export default mergeConfig(kubenodeVitest(), { test: { fileParallelism: false } });
