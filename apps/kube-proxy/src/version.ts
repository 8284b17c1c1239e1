/** Version reported by --version and the metrics endpoint. */
export const VERSION = "0.0.0";
/** The upstream kube-proxy release whose flags, config and behaviour this follows. */
export const UPSTREAM_VERSION = "v1.32";
