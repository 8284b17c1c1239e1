// `npm test`: every check (lint, typecheck, publint) and every unit and integration test of the
// workspace through turbo, then one closing line `N passed, N failed, N skipped` summed from the
// vitest JSON reports (vitest's own summary is per package and not what CI reads).
// Extra arguments go to turbo, e.g. `npm test -- --filter=@kubenode/netrules`.
import { spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { leaks, snapshotHostState } from "./host-state.mjs";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const workspaces = ["packages", "apps", "tooling"].flatMap((dir) =>
  existsSync(join(root, dir)) ? readdirSync(join(root, dir)).map((name) => join(root, dir, name)) : [],
);

// A report left from an earlier run must not be counted for a package that did not run this time;
// turbo restores the report of a cached test task, so cache hits still count.
for (const ws of workspaces) rmSync(join(ws, ".reports"), { recursive: true, force: true });

const hostBefore = snapshotHostState();
const turbo = spawnSync(
  "turbo",
  [
    "run",
    "lint",
    "typecheck",
    "build",
    "publint",
    "test",
    "--output-logs=new-only",
    "--concurrency=2",
    "--continue",
    ...process.argv.slice(2),
  ],
  { cwd: root, stdio: "inherit" },
);

/**
 * The first lines of a failure, indented under its name: the end of the output is what a CI record
 * keeps, and the name alone does not say whether it was a timeout, an assertion or a crash.
 */
function reason(messages) {
  const text = (messages ?? []).join("\n").replace(/\x1b\[[0-9;]*m/g, "");
  const lines = text
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l && !l.startsWith("at "))
    .slice(0, 3)
    .map((l) => (l.length > 400 ? `${l.slice(0, 400)}...` : l));
  return lines.map((l) => `\n      ${l}`).join("");
}

let passed = 0;
let failed = 0;
let skipped = 0;
const failures = [];
for (const ws of workspaces) {
  const file = join(ws, ".reports", "vitest.json");
  if (!existsSync(file)) continue;
  const report = JSON.parse(readFileSync(file, "utf8"));
  for (const suite of report.testResults ?? []) {
    for (const t of suite.assertionResults ?? []) {
      if (t.status === "passed") passed++;
      else if (t.status === "failed") {
        failed++;
        failures.push(`${suite.name.slice(root.length + 1)} > ${t.fullName}${reason(t.failureMessages)}`);
      } else skipped++;
    }
    // A file that failed to load, or whose beforeAll/afterAll hook threw (its tests then read as
    // skipped), has no failed test but is a failure all the same. vitest's JSON report carries no
    // message for a hook; its output above does.
    const failedTests = (suite.assertionResults ?? []).filter((t) => t.status === "failed").length;
    if (suite.status === "failed" && failedTests === 0) {
      failed++;
      failures.push(
        `${suite.name.slice(root.length + 1)}: ${suite.message || "a beforeAll/afterAll hook failed (its error is printed above)"}`,
      );
    }
  }
}
// Every test must remove what it created: a leftover is a failure of the run.
const leaked = leaks(hostBefore, snapshotHostState());
for (const [kind, items] of Object.entries(leaked)) {
  failed++;
  failures.push(`left behind after the tests: ${kind}: ${items.join(", ")}`);
}
const turboFailed = turbo.status !== 0;
if (turboFailed && failed === 0) {
  // lint, typecheck, build or publint failed (see turbo's output above): that is a failed check.
  failed = 1;
  failures.push(
    `turbo exited ${turbo.status ?? turbo.signal}: a lint, typecheck, build or publint task failed`,
  );
}
if (failures.length > 0) {
  process.stdout.write(`\nFailed:\n${failures.map((f) => `  ${f}`).join("\n")}\n`);
}
const line = `${passed} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ""}`;
mkdirSync(join(root, ".reports"), { recursive: true });
writeFileSync(join(root, ".reports", "summary.txt"), `${line}\n`);
process.stdout.write(`\n${line}\n`);
process.exit(turboFailed || failed > 0 ? 1 : 0);
