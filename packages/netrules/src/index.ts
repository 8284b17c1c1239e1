export type { NetrulesErrorCode } from "./errors.js";
export { NetrulesError } from "./errors.js";
export type { IPFamily } from "./ip.js";
export type {
  EndpointModel,
  ModelError,
  Protocol,
  ProxyModel,
  ProxyModelInput,
  ProxyModelOptions,
  ServicePortModel,
} from "./model.js";
export { buildProxyModel, DEFAULT_AFFINITY_TIMEOUT_SECONDS, SERVICE_NAME_LABEL } from "./model.js";
export type {
  EndpointLike,
  EndpointSliceLike,
  ObjectMetaLike,
  ServiceLike,
  ServicePortLike,
} from "./types.js";
