import type { Options } from "tsup";

/** Build settings for a kubenode package: ESM only, d.ts, Node 22 target. */
export declare function packageConfig(overrides?: Partial<Options>): Options;
