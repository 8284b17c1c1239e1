// Public API of @kubenode/kubelet.

// Compose a kubelet: the root, its contract, and the pod shapes it speaks.
export type { Container, Lifecycle, LifecycleHandler, Pod, PodStatus, Probe } from "./api.js";
// Garbage collection: the kubelet's `gc` (also eviction's reclaim hooks) and its settings.
export type {
  ContainerGcPlan,
  ContainerGcPolicy,
  GarbageCollector,
  GcSettings,
  ImageGcEvent,
  ImageGcPolicy,
  ImageGcResult,
} from "./gc/index.js";
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
// Where pod features read configMaps, secrets, services and tokens (replaceable for a virtual node),
// and the tmpfs mounter of memory-backed volumes.
export type {
  ConfigMapData,
  IssuedToken,
  ObjectSource,
  SecretData,
  ServiceData,
  TokenRequestSpec,
} from "./object-source.js";
// The replaceable runtime module: the CRI implementation, and what a custom one implements.
export { type CriRuntimeOptions, createCriRuntime } from "./runtime/cri-runtime.js";
export type { CgroupDriver, PodCgroupSettings } from "./runtime/pod-cgroups.js";
export {
  type ContainerMount,
  type ExecSyncResult,
  ExecTimeoutError,
  type FsUsage,
  type PodRuntime,
  type RuntimeContainer,
  type RuntimeContainerState,
  type RuntimeHealth,
  type RuntimeImage,
  type RuntimeImageService,
  type RuntimePod,
  type RuntimeSandbox,
  RuntimeStepError,
  type RuntimeVersion,
  type StartContainerRequest,
  type StepFailureReason,
} from "./runtime/types.js";
export type { Mounter } from "./volumes/mounter.js";
