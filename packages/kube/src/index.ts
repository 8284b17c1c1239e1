export type { Backoff, BackoffOptions } from "./backoff.js";
export { createBackoff, jitterMs } from "./backoff.js";
export type {
  KubeClient,
  KubeClientOptions,
  KubeClientStats,
  KubeMethod,
  KubeRequest,
  WatchEvent,
} from "./client.js";
export { createKubeClient } from "./client.js";
export type { ClientNodeKubeConfigLike } from "./client-node.js";
export { clientNodePatchOptions, fromClientNodeConfig, toClientNodeConfig } from "./client-node.js";
export type { Clock, FakeClock, TimerHandle } from "./clock.js";
export { createFakeClock, createRealClock } from "./clock.js";
export { formatGoDuration, parseGoDurationMs } from "./duration.js";
export type { KubeErrorCode, KubeStatus } from "./errors.js";
export { isRetryableError, KubeError } from "./errors.js";
export type {
  IndexFunc,
  Informer,
  InformerEvents,
  InformerOptions,
  InformerStore,
  KubeObject,
} from "./informer.js";
export { createInformer, indexByNamespace, indexByNodeName, objectKey } from "./informer.js";
export type { KubeConnection, LoadKubeConfigOptions } from "./kubeconfig.js";
export { inClusterConnection, loadKubeConfig, parseKubeConfig } from "./kubeconfig.js";
export type { LogFields, LogFormat, Logger, LoggerOptions } from "./logger.js";
export { createLogger, silentLogger } from "./logger.js";
export type {
  MetricHistogram,
  MetricLabels,
  MetricScalar,
  MetricsRegistry,
} from "./metrics.js";
export { createMetricsRegistry, exponentialBuckets, linearBuckets } from "./metrics.js";
export type { JsonPatchOperation, PatchContentType, PatchOptions, RetryOnConflictOptions } from "./patch.js";
export {
  jsonPatch,
  mergePatch,
  PatchType,
  patchObject,
  retryOnConflict,
  strategicMergePatch,
} from "./patch.js";
export type { Quantity, QuantityFormat } from "./quantity.js";
export { formatQuantity, parseQuantity, quantityValue } from "./quantity.js";
export {
  DNS1035_LABEL_MAX_LENGTH,
  DNS1123_LABEL_MAX_LENGTH,
  DNS1123_SUBDOMAIN_MAX_LENGTH,
  PORT_NAME_MAX_LENGTH,
  validateDNS1035Label,
  validateDNS1123Label,
  validateDNS1123Subdomain,
  validatePortName,
} from "./validation.js";
