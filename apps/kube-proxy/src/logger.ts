// kubenode-proxy logs through @kubenode/kube's Logger, as every block does; what is the proxy's
// own is adding the mode to the records of the blocks it drives.
import type { LogFields, Logger } from "@kubenode/kube";

export type { LogFields, Logger } from "@kubenode/kube";

/** `log` with `fields` added to every record (the proxy mode on the blocks' records, say). */
export function withFields(log: Logger, fields: LogFields): Logger {
  return {
    info: (msg, f) => log.info(msg, { ...fields, ...f }),
    v: (level, msg, f) => log.v(level, msg, { ...fields, ...f }),
    enabled: (level) => log.enabled(level),
    warn: (msg, f) => log.warn(msg, { ...fields, ...f }),
    error: (msg, err, f) => log.error(msg, err, { ...fields, ...f }),
    withName: (name) => withFields(log.withName(name), fields),
  };
}
