import { TestkitError } from "./errors.js";

/** One registered teardown step. */
interface Step {
  readonly what: string;
  readonly run: () => unknown;
}

/**
 * Teardown that always finishes: steps run last-registered first, every one of them even when
 * earlier ones fail, and all failures are reported together at the end.
 */
export interface Cleanup {
  /** Registers a step, described for the report (`"containerd"`, `"pod web"`). */
  add(what: string, step: () => unknown): void;
  /**
   * Runs every registered step once, newest first. Resolves to the descriptions of the steps that
   * succeeded; rejects with a `CleanupFailed` TestkitError naming each step that failed (its
   * `cause` is an AggregateError of the errors) after all steps have run.
   */
  run(): Promise<string[]>;
}

export function createCleanup(): Cleanup {
  const steps: Step[] = [];
  return {
    add(what, run) {
      steps.push({ what, run });
    },
    async run() {
      const done: string[] = [];
      const failures: { what: string; error: unknown }[] = [];
      for (let step = steps.pop(); step !== undefined; step = steps.pop()) {
        try {
          await step.run();
          done.push(step.what);
        } catch (error) {
          failures.push({ what: step.what, error });
        }
      }
      if (failures.length > 0) {
        const lines = failures.map(({ what, error }) => `${what}: ${TestkitError.from(error).message}`);
        throw new TestkitError(
          "CleanupFailed",
          `${failures.length} teardown step(s) failed (the others ran):\n  ${lines.join("\n  ")}`,
          { cause: new AggregateError(failures.map((f) => f.error)) },
        );
      }
      return done;
    },
  };
}
