import { packageConfig } from "@kubenode/tsup-config";
import { defineConfig } from "tsup";

// The library entry (createKubelet and the modules) and the kubenode-kubelet binary.
export default defineConfig(packageConfig({ entry: ["src/index.ts", "src/main.ts"] }));
