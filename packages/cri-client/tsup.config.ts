import { packageConfig } from "@kubenode/tsup-config";
import { defineConfig } from "tsup";

export default defineConfig(packageConfig());
