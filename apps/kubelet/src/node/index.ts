export { admitPod, podRequests } from "./admission.js";
export { createCriPodStatsSource, criImageFsStats } from "./cri-stats.js";
export { createApiEventRecorder } from "./events.js";
export {
  createNodeModule,
  type NodeKubelet,
  type NodeModule,
  type NodeModuleConfig,
  type NodeModuleOptions,
} from "./node-module.js";
