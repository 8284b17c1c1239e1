import { readFile as fsReadFile } from "node:fs/promises";
import { hostname as osHostname } from "node:os";
import { applyDefaults, decodeKubeletConfiguration, type KubeletConfiguration } from "./configuration.js";
import { ConfigError } from "./errors.js";
import { type KubeletFlags, parseFlags, usage } from "./flags.js";
import { nodeNameFrom, validateConfiguration, validateNodeIPs, validateNodeLabels } from "./validation.js";

export type { ConfigTaint, DecodedConfigFile, KubeletConfiguration } from "./configuration.js";
export {
  applyDefaults,
  decodeKubeletConfiguration,
  defaultKubeletConfiguration,
  KUBELET_CONFIG_API_VERSION,
  KUBELET_CONFIG_KIND,
} from "./configuration.js";
export { ConfigError, type ConfigErrorCode } from "./errors.js";
export { FLAGS, type KubeletFlags, type ParsedFlags, parseFlags, usage } from "./flags.js";
export {
  durationMs,
  isKubeletLabel,
  KUBELET_LABEL_NAMESPACES,
  KUBELET_LABELS,
  nodeNameFrom,
  parseTaints,
  validateConfiguration,
  validateNodeIPs,
  validateNodeLabels,
} from "./validation.js";

/** A configuration ready to run. */
export interface ResolvedKubeletConfig {
  flags: KubeletFlags;
  /** The config file (if any) with upstream defaults and the flags applied over it. */
  config: KubeletConfiguration;
  /** This node's name (`--hostname-override` or the host name, lowercased). */
  nodeName: string;
  /** No `--kubeconfig`: static pods only, no API server. */
  standalone: boolean;
  /** Known KubeletConfiguration fields the file sets that this kubelet does not act on. */
  ignoredFields: string[];
}

/** What the command line asks for. */
export type KubeletCommand =
  | { action: "help"; text: string }
  | { action: "version"; raw: boolean }
  | { action: "run"; resolved: ResolvedKubeletConfig };

/** Options of {@link resolveKubeletConfig}, replaceable in tests. */
export interface ResolveOptions {
  readFile?: (path: string) => Promise<string>;
  hostname?: () => string;
}

/**
 * Turns the command line into what the kubelet does, in upstream's order: parse flags; `--help`;
 * `--version`; validate `--node-labels`; load the `--config` file (strict) over the v1beta1
 * defaults; apply the flags over the file (flags win, as upstream's kubeletConfigFlagPrecedence);
 * validate the result.
 * @throws ConfigError whose message is upstream-shaped ("failed to parse kubelet flag: unknown
 *   flag: --foo", "failed to load kubelet config file, path: ..., error: ...").
 */
export async function resolveKubeletConfig(
  argv: readonly string[],
  options: ResolveOptions = {},
): Promise<KubeletCommand> {
  const readFile = options.readFile ?? ((p: string) => fsReadFile(p, "utf8"));
  let parsed: ReturnType<typeof parseFlags>;
  try {
    parsed = parseFlags(argv);
  } catch (err) {
    throw wrap(err, "failed to parse kubelet flag: ");
  }
  const { flags } = parsed;
  if (flags.help) return { action: "help", text: usage() };
  if (flags.version) return { action: "version", raw: flags.version === "raw" };
  try {
    validateNodeLabels(flags.nodeLabels);
  } catch (err) {
    throw wrap(err, "failed to validate kubelet flags: ");
  }

  let fields: Record<string, unknown> = {};
  let ignoredFields: string[] = [];
  if (flags.config) {
    let text: string;
    try {
      text = await readFile(flags.config);
    } catch (err) {
      throw new ConfigError(
        "InvalidConfigFile",
        `failed to read kubelet config file ${JSON.stringify(flags.config)}, error: ${(err as Error).message}`,
        { cause: err },
      );
    }
    try {
      ({ fields, ignoredFields } = decodeKubeletConfiguration(text));
    } catch (err) {
      throw wrap(err, `failed to load kubelet config file, path: ${flags.config}, error: `);
    }
  }
  const config = applyDefaults(fields);
  parsed.applyTo(config);
  try {
    validateConfiguration(config);
    validateNodeIPs(flags.nodeIPs);
  } catch (err) {
    throw wrap(err, "failed to validate kubelet configuration, error: ");
  }
  const nodeName = nodeNameFrom(flags.hostnameOverride, (options.hostname ?? osHostname)());
  return {
    action: "run",
    resolved: { flags, config, nodeName, standalone: flags.kubeconfig === undefined, ignoredFields },
  };
}

function wrap(err: unknown, prefix: string): ConfigError {
  if (err instanceof ConfigError) return new ConfigError(err.code, `${prefix}${err.message}`, { cause: err });
  return new ConfigError("InvalidConfig", `${prefix}${(err as Error)?.message ?? String(err)}`, {
    cause: err,
  });
}
