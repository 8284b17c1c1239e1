import type { UserConfig } from "vitest/config";

export interface KubenodeVitestOptions {
  /** Files vitest runs once before all tests, e.g. to start shared real components. */
  globalSetup?: string[];
  /** Per-test timeout; integration tests against real components get the generous default. */
  testTimeout?: number;
}

/** The shared vitest preset (unit + `*.int.test.ts`, JSON report in `.reports/vitest.json`). */
export declare function kubenodeVitest(options?: KubenodeVitestOptions): UserConfig;
