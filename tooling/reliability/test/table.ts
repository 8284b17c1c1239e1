// What each test of the suite reports for the table: the fault it injects, what it checked, and how
// long recovery took. The result column is the test's own outcome (see reporter.ts).
import type { TestContext } from "vitest";

/** One row of the reliability table. */
export interface ReliabilityRow {
  fault: string;
  checked: string;
  /** Time from the end of the fault to the last check passing, in ms; absent where nothing recovers. */
  recoveryMs?: number;
  /** Extra numbers worth a line in the table (seed, iterations, outage length). */
  note?: string;
}

declare module "vitest" {
  interface TaskMeta {
    reliability?: ReliabilityRow;
  }
}

/** Records the row of the running test; later calls refine it (recovery time once known). */
export function row(ctx: TestContext, r: Partial<ReliabilityRow>): void {
  const meta = ctx.task.meta;
  meta.reliability = { fault: "", checked: "", ...meta.reliability, ...r };
}
