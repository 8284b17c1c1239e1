import { packageConfig } from "@kubenode/tsup-config";
import { defineConfig } from "tsup";

// The library entry (startProxyServer and its configuration) and the kubenode-proxy binary.
export default defineConfig(packageConfig({ entry: ["src/index.ts", "src/main.ts"] }));
