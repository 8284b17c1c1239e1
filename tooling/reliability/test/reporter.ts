// Prints the reliability table at the end of the run and writes it to .reports/reliability.md.
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Reporter, TestModule } from "vitest/node";
import type { ReliabilityRow } from "./table.js";

function cell(s: string): string {
  return s.replaceAll("|", "\\|").replaceAll("\n", " ");
}

export default class ReliabilityTableReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>): void {
    const lines = ["| fault | what was checked | result | recovery time |", "|---|---|---|---|"];
    for (const mod of testModules) {
      for (const test of mod.children.allTests()) {
        const r = test.meta().reliability as ReliabilityRow | undefined;
        const state = test.result().state;
        const fault = r?.fault || test.name;
        const checked = r?.checked || "";
        const result = state === "passed" ? "pass" : state === "failed" ? "FAIL" : state;
        const recovery = r?.recoveryMs === undefined ? "-" : `${(r.recoveryMs / 1000).toFixed(1)} s`;
        const note = r?.note ? ` (${r.note})` : "";
        lines.push(`| ${cell(fault)} | ${cell(checked + note)} | ${result} | ${recovery} |`);
      }
    }
    const table = `${lines.join("\n")}\n`;
    const dir = join(import.meta.dirname, "..", ".reports");
    mkdirSync(dir, { recursive: true });
    writeFileSync(join(dir, "reliability.md"), `# Reliability and security suite\n\n${table}`);
    process.stdout.write(`\nReliability and security suite\n${table}`);
  }
}
