// Public API of @kubenode/kubelet.
export type { Pod, PodStatus } from "./api.js";
export {
  type AdmitHandler,
  type AdmitResult,
  createKubelet,
  type Kubelet,
  type KubeletOptions,
  type PlegHealth,
} from "./kubelet.js";
export { type CriRuntimeOptions, createCriRuntime } from "./runtime/cri-runtime.js";
export {
  type PodRuntime,
  type RuntimeContainer,
  type RuntimeContainerState,
  type RuntimeHealth,
  type RuntimePod,
  type RuntimeSandbox,
  RuntimeStepError,
  type RuntimeVersion,
  type StartContainerRequest,
  type StepFailureReason,
} from "./runtime/types.js";
