/**
 * What was wrong with the kubelet's configuration:
 * - `InvalidFlag`: a command-line flag is unknown, lacks its value or has a value of the wrong type.
 * - `InvalidConfigFile`: the `--config` file cannot be read or decoded (unknown or mistyped fields).
 * - `InvalidConfig`: the merged configuration fails validation (ranges, combinations).
 * - `InvalidNodeLabels`: `--node-labels` holds labels the kubelet may not set.
 */
export type ConfigErrorCode = "InvalidFlag" | "InvalidConfigFile" | "InvalidConfig" | "InvalidNodeLabels";

/** A configuration error; its message is what the kubelet prints before exiting with status 1. */
export class ConfigError extends Error {
  override readonly name = "ConfigError";
  readonly code: ConfigErrorCode;

  constructor(code: ConfigErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options?.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
  }
}
