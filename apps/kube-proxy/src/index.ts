// @kubenode/kube-proxy as a library: the same proxy the kubenode-proxy binary runs, for tools that
// embed it (a virtual node, a test harness). Configuration comes as upstream's
// KubeProxyConfiguration, from a command line (`loadOptions`) or built in code (`defaultConfig`
// + `validateConfig`); `startProxyServer` runs it until `stop()`.
export type { KubeProxyConfiguration, ParsedConfig, ProxyMode, ResolvedConfig } from "./config.js";
export { CONFIG_API_VERSION, CONFIG_KIND, defaultConfig, parseConfigText, validateConfig } from "./config.js";
export type { Dataplane, DataplaneSyncResult } from "./dataplane.js";
export { ProxyError, type ProxyErrorCode } from "./errors.js";
export { loadOptions, type ProxyOptions } from "./options.js";
export { type ProxyServer, type ProxyServerOptions, startProxyServer } from "./proxy-server.js";
