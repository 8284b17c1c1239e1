import { packageConfig } from "@kubenode/tsup-config";
import { defineConfig } from "tsup";

export default defineConfig(packageConfig({ entry: ["src/index.ts", "src/testing.ts", "src/internals.ts"] }));
