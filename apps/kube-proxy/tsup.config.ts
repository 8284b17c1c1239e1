import { packageConfig } from "@kubenode/tsup-config";
import { defineConfig } from "tsup";

export default defineConfig(packageConfig({ entry: ["src/main.ts"], dts: false }));
