// @kubenode/testkit: rigs for testing Kubernetes node agents against real components.
// Nothing in a production path imports this package.

// Kubernetes API server simulator: faithful on the wire for client-node and kubectl.
export {
  type AllocationOptions,
  type ApiClock,
  type ApiCore,
  type ApiServer,
  type ApiServerOptions,
  type ApiStorage,
  type ControllerOptions,
  createMemoryStorage,
  createTestCa,
  type DeleteOptions,
  type FaultSpec,
  findResource,
  type KubeletDialer,
  type KubeletEndpoint,
  type KubeObject,
  type MemoryStorageOptions,
  type ObjectMeta,
  type OwnerReference,
  type PatchType,
  type RequestRecord,
  type ResourceDef,
  type StorageEvent,
  type StorageSubscription,
  startApiServer,
  type TestCa,
  type UserInfo,
} from "./apiserver/index.js";
// Real host components (root): packages, network namespaces, containerd, registry, images.
export { type Cleanup, createCleanup } from "./env/cleanup.js";
export {
  type Containerd,
  type ContainerdOptions,
  startContainerd,
  sweepStaleContainerds,
} from "./env/containerd.js";
export { TestkitError, type TestkitErrorCode } from "./env/errors.js";
export { type RunOptions, type RunResult, run, waitFor } from "./env/exec.js";
export { advanceFakeClock, type SteppableClock } from "./env/fake-clock.js";
export {
  canUseRealComponents,
  ensureHostPackages,
  HOST_PACKAGES,
  type HostPackage,
} from "./env/host-packages.js";
export type { HostPortBridge, NamespacePortExposure } from "./env/host-port-bridge.js";
export { buildTestImages, type OciImage, type TestImages } from "./env/images.js";
export {
  createNetworkLab,
  type LabHost,
  type NetworkLab,
  type NetworkLabOptions,
  sweepStaleNetworkLabs,
} from "./env/netns.js";
export { createInstanceDir } from "./env/paths.js";
export {
  type Registry,
  type RegistryCredentials,
  type RegistryOptions,
  startRegistry,
} from "./env/registry.js";
export { sweepStaleInstances } from "./env/sweep.js";
