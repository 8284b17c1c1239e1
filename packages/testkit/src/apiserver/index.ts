export type { AllocationOptions, ApiClock, ApiCore, DeleteOptions, PatchType } from "./core.js";
export type { KubeletDialer, KubeletEndpoint } from "./kubelet-proxy.js";
export type { ResourceDef } from "./resources.js";
export { findResource } from "./resources.js";
export type { ApiServer, ApiServerOptions, ControllerOptions, FaultSpec, RequestRecord } from "./server.js";
export { startApiServer } from "./server.js";
export type { ApiStorage, MemoryStorageOptions, StorageEvent, StorageSubscription } from "./storage.js";
export { createMemoryStorage } from "./storage.js";
export type { KubeObject, ObjectMeta, OwnerReference, UserInfo } from "./types.js";
