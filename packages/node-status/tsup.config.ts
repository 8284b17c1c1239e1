import { packageConfig } from "@kubenode/tsup-config";
import { defineConfig } from "tsup";

export default defineConfig(packageConfig({ entry: ["src/index.ts", "src/internals.ts"] }));
