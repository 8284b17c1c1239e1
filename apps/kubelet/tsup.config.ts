import { existsSync } from "node:fs";
import { packageConfig } from "@kubenode/tsup-config";
import { defineConfig } from "tsup";

// The library entry (createKubelet and the modules) and the kubenode-kubelet binary.
const entry = ["src/index.ts", "src/main.ts"].filter((file) => existsSync(file));

export default defineConfig(packageConfig({ entry }));
