// Public API of @kubenode/kubelet.

// Compose a kubelet: the root, its contract, and the pod shapes it speaks.
export type { Container, Lifecycle, LifecycleHandler, Pod, PodStatus, Probe } from "./api.js";
export {
  type AdmitHandler,
  type AdmitResult,
  createKubelet,
  type Kubelet,
  type KubeletOptions,
  type PlegHealth,
} from "./kubelet.js";
// The node module (registration, node status, lease, eviction, admission) that plugs into a kubelet.
export { admitPod } from "./node/admission.js";
export {
  createNodeModule,
  type NodeKubelet,
  type NodeModule,
  type NodeModuleConfig,
  type NodeModuleOptions,
} from "./node/node-module.js";
// The replaceable runtime module: the CRI implementation, and what a custom one implements.
export { type CriRuntimeOptions, createCriRuntime } from "./runtime/cri-runtime.js";
export {
  type ExecSyncResult,
  ExecTimeoutError,
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
