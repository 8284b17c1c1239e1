import { kubenodeVitest } from "@kubenode/vitest-config";

const config = kubenodeVitest({ testTimeout: 300_000 });
const test = config.test ?? {};
export default {
  ...config,
  test: {
    ...test,
    // Every file runs a real node (containerd, kubelet, kube-proxy): one at a time on a small machine.
    fileParallelism: false,
    reporters: [...(test.reporters ?? []), "./test/reporter.ts"],
  },
};
