// Public API of @kubenode/cri-client.
export {
  type CriCallOptions,
  type CriClient,
  type CriClientOptions,
  type CriMethod,
  type CriRpcName,
  createCriClient,
  type ImageServiceMethods,
  type RuntimeServiceMethods,
} from "./client.js";
export { type CriEndpoint, parseEndpoint } from "./endpoint.js";
export { CriError, type CriErrorCode, type CriErrorOptions, type CriStatusCode } from "./errors.js";
// CRI v1 messages and enums most callers need (the complete set is generated in src/gen).
export {
  type AuthConfig,
  CgroupDriver,
  type Container,
  type ContainerConfig,
  type ContainerEventResponse,
  ContainerEventType,
  type ContainerFilter,
  ContainerState,
  type ContainerStats,
  type ContainerStatus,
  type DeepPartial,
  type ExecSyncResponse,
  type FilesystemUsage,
  type Image,
  type ImageSpec,
  type KeyValue,
  type LinuxContainerResources,
  type Mount,
  MountPropagation,
  NamespaceMode,
  type PodSandbox,
  type PodSandboxConfig,
  type PodSandboxFilter,
  PodSandboxState,
  type PodSandboxStatus,
  type PortMapping,
  Protocol,
  type RuntimeCondition,
  Signal,
  type VersionResponse,
} from "./gen/runtime/v1/api.js";
export {
  credentialsForImage,
  type DockerConfigEntry,
  type DockerConfigJson,
  type PullWithSecretsOptions,
  parseImageRegistry,
  pullImageWithSecrets,
} from "./image-auth.js";
export {
  type CriLogEntry,
  type CriLogLine,
  parseCriLogLine,
  type ReadCriLogOptions,
  readCriLog,
} from "./logs.js";
export { type DeadlinePolicy, deadlinePolicy } from "./methods.js";
export {
  attachStream,
  type ConnectStreamOptions,
  connectStream,
  execStream,
  forwardPort,
  type PortForwarder,
  portForwardStream,
  type StreamExit,
  type StreamSession,
  type StreamStatus,
} from "./streaming.js";
