import { kubenodeVitest } from "@kubenode/vitest-config";

export default kubenodeVitest({ globalSetup: ["test/global-setup.ts"] });
