import { kubenodeVitest } from "@kubenode/vitest-config";

export default kubenodeVitest();
