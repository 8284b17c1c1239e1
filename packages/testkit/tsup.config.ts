import { packageConfig } from "@kubenode/tsup-config";
import { defineConfig } from "tsup";

export default defineConfig(
  packageConfig({
    entry: {
      index: "src/index.ts",
      "testenv-cli": "src/env/cli.ts",
      "apiserver-cli": "src/apiserver/cli.ts",
    },
  }),
);
