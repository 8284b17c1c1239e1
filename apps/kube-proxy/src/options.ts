import { readFileSync } from "node:fs";
import {
  defaultConfig,
  type KubeProxyConfiguration,
  parseConfigText,
  type ResolvedConfig,
  validateConfig,
} from "./config.js";
import { ProxyError } from "./errors.js";
import { applyFlags, type ParsedFlags, parseFlags } from "./flags.js";

/** Everything the command line resolves to. */
export interface ProxyOptions {
  flags: ParsedFlags;
  resolved: ResolvedConfig;
  /** Non-fatal findings to log at startup (unknown config fields, ignored flags). */
  warnings: string[];
}

/** Reads `--config` (if any), applies flags like upstream kube-proxy, and validates the result. */
export function loadOptions(
  argv: readonly string[],
  readFile: (path: string) => string = (p) => readFileSync(p, "utf8"),
): ProxyOptions {
  const flags = parseFlags(argv);
  const warnings: string[] = [];
  let config: KubeProxyConfiguration = defaultConfig();
  if (flags.config !== undefined) {
    let text: string;
    try {
      text = readFile(flags.config);
    } catch (err) {
      throw new ProxyError(
        "InvalidConfig",
        `cannot read --config ${flags.config}: ${(err as Error).message}`,
        {
          cause: err,
          field: "--config",
        },
      );
    }
    const parsed = parseConfigText(text, flags.config);
    config = parsed.config;
    if (parsed.unknownFields.length > 0)
      warnings.push(
        `config ${flags.config}: unknown fields ignored (lenient decoding, like upstream): ${parsed.unknownFields.join(", ")}`,
      );
  }
  const ignored = applyFlags(config, flags, flags.config !== undefined);
  if (ignored.length > 0)
    warnings.push(
      `flags ignored because --config is set (set them in the file instead): ${ignored.join(", ")}`,
    );
  return { flags, resolved: validateConfig(config), warnings };
}
