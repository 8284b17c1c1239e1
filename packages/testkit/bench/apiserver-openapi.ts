// The cost of serving OpenAPI: server start, then the first and a repeated GET of
// /openapi/v3/api/v1 (the first builds every document from @kubernetes/client-node's models),
// then the same for a second server in the same process (documents are built once per process).
// Usage: node --import ./bench/apiserver-ts-hook.ts bench/apiserver-openapi.ts [runs=5]
// Each run is a fresh process, so the first request pays the whole build.
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { startApiServer } from "../src/apiserver/server.js";
import { raw } from "../src/apiserver/test-support.js";
import { fmt, percentile } from "./apiserver-common.js";

async function once(): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const which of ["first", "second"]) {
    let t = performance.now();
    const server = await startApiServer();
    out[`${which} server start`] = performance.now() - t;
    try {
      for (const req of ["first", "repeated"]) {
        t = performance.now();
        const r = await raw(server, "GET", "/openapi/v3/api/v1");
        if (r.status !== 200) throw new Error(`GET /openapi/v3/api/v1: ${r.status}`);
        out[`${which} server, ${req} GET /openapi/v3/api/v1`] = performance.now() - t;
      }
    } finally {
      await server.stop();
    }
  }
  return out;
}

if (process.argv[2] === "--child") {
  process.stdout.write(`${JSON.stringify(await once())}\n`);
} else {
  const runs = Number(process.argv[2] ?? 5);
  const samples: Record<string, number[]> = {};
  for (let i = 0; i < runs; i++) {
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, fileURLToPath(import.meta.url), "--child"],
      { encoding: "utf8", stdio: ["ignore", "pipe", "inherit"] },
    );
    if (child.status !== 0) throw new Error(`bench child exited with ${child.status}`);
    for (const [k, v] of Object.entries(JSON.parse(child.stdout) as Record<string, number>))
      samples[k] = [...(samples[k] ?? []), v];
  }
  for (const [k, v] of Object.entries(samples)) {
    const sorted = v.slice().sort((a, b) => a - b);
    console.log(
      `${k}: p50 ${fmt(percentile(sorted, 50))} ms, max ${fmt(sorted.at(-1)!)} ms (${runs} processes)`,
    );
  }
}
