/**
 * Build settings for a kubenode package: ESM only, one d.ts per entry, no bundled dependencies.
 * @param {{ entry?: string[] | Record<string, string> }} [overrides]
 */
export function packageConfig(overrides = {}) {
  return {
    entry: ["src/index.ts"],
    format: ["esm"],
    target: "node22",
    platform: "node",
    dts: true,
    sourcemap: true,
    clean: true,
    splitting: true,
    treeshake: true,
    // Keep `node:` specifiers: they are unambiguous and every supported Node has them.
    removeNodeProtocol: false,
    ...overrides,
  };
}
