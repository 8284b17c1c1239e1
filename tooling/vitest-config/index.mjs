import { defineConfig } from "vitest/config";

/**
 * The shared vitest preset.
 * - `*.test.ts` beside the code are unit tests; `*.int.test.ts` are integration tests against real
 *   components (containerd, registry, iptables, the API simulator) and get longer timeouts.
 * - `KUBENODE_TEST=unit` or `=int` runs only one kind.
 * - A JSON report lands in `.reports/vitest.json`; tooling/test-env sums them into CI's line.
 * @param {{ globalSetup?: string[], testTimeout?: number, intTestTimeout?: number }} [options]
 */
export function kubenodeVitest(options = {}) {
  const only = process.env.KUBENODE_TEST;
  const include =
    only === "unit"
      ? ["src/**/*.test.ts", "test/**/*.test.ts"]
      : only === "int"
        ? ["src/**/*.int.test.ts", "test/**/*.int.test.ts"]
        : ["src/**/*.test.ts", "test/**/*.test.ts"];
  const exclude =
    only === "unit"
      ? ["**/*.int.test.ts", "**/node_modules/**", "dist/**"]
      : ["**/node_modules/**", "dist/**"];
  return defineConfig({
    test: {
      include,
      exclude,
      globalSetup: options.globalSetup ?? [],
      testTimeout: options.testTimeout ?? 120_000,
      hookTimeout: 180_000,
      reporters: ["default", ["json", { outputFile: ".reports/vitest.json" }]],
      pool: "forks",
    },
  });
}
