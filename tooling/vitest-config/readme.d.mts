/** What running a README example produced. */
export interface ReadmeExampleRun {
  /** The example's source (the README's first ```ts or ```js block). */
  code: string;
  status: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * Runs the first ```ts (or ```js) block of the package's README as an ES module in a new Node process started
 * in `packageDir`, so `@kubenode/*` imports resolve to the built workspace packages.
 */
export declare function runReadmeExample(
  packageDir: URL,
  options?: {
    /** Default 60 000. */
    timeoutMs?: number;
    /** Added to this process's environment, for examples that read one. */
    env?: Record<string, string>;
  },
): ReadmeExampleRun;
