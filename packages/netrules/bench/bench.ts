// Generation and apply benchmark. Run: npm run bench (builds, then runs this file with Node 24).
// Apply numbers need root (they create fresh network namespaces); pass --no-apply to skip them.
// `--baseline <module>` also measures generation with another build of this package (for example
// the last release's dist/index.js) and prints its rows beside ours.
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";
import type { EndpointSliceLike, ServiceLike } from "../dist/index.js";
// Applying the payloads is ours in every run; only generation is measured for a baseline build.
import { runCommand } from "../dist/internals.js";

const BASELINE_ENV = "NETRULES_BENCH_MODULE";
const lib: typeof import("../dist/index.js") = await import(
  process.env[BASELINE_ENV] ? pathToFileURL(process.env[BASELINE_ENV]).href : "../dist/index.js"
);
const { buildProxyModel, createIptablesBackend, createNftablesBackend, createProxyModelBuilder } = lib;

const SIZES = (process.env.BENCH_SIZES ?? "1000,10000,40000").split(",").map(Number);
const APPLY = !process.argv.includes("--no-apply");
const IPT_APPLY_MAX = 1000;
const NFT_APPLY_MAX = 10000;
const EPS = 10;

function ip(base: number, i: number): string {
  return `${base}.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
}

function makeInput(n: number) {
  const services: ServiceLike[] = [];
  const endpointSlices: EndpointSliceLike[] = [];
  for (let s = 0; s < n; s++) {
    services.push({
      metadata: { namespace: `ns${s % 100}`, name: `svc${s}` },
      spec: { type: "ClusterIP", clusterIP: ip(172, s + 1), ports: [{ name: "http", port: 80 }] },
    });
    endpointSlices.push(makeSlice(s, 0));
  }
  return { nodeName: "node-0", services, endpointSlices };
}

function makeSlice(s: number, generation: number): EndpointSliceLike {
  return {
    metadata: {
      namespace: `ns${s % 100}`,
      name: `svc${s}-abc`,
      labels: { "kubernetes.io/service-name": `svc${s}` },
    },
    addressType: "IPv4",
    endpoints: Array.from({ length: EPS }, (_, e) => ({
      addresses: [ip(10, s * EPS + e + generation)],
      conditions: { ready: true },
      nodeName: `node-${e}`,
    })),
    ports: [{ name: "http", port: 8080, protocol: "TCP" }],
  };
}

// Wall times, with this process's CPU time (user + system, all threads) beside the generation
// steps: on a shared machine wall time says as much about the neighbours as about this code, so
// the bench prints the load average, and numbers are recorded from quiet runs.
const cpuNow = () => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
};
const wallMs = (t0: number) => Math.round((performance.now() - t0) * 100) / 100;
const mib = (b: number) => Math.round(b / 1048576);
function gc() {
  (globalThis as { gc?: () => void }).gc?.();
}
function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return Math.round(s[Math.floor(s.length / 2)]! * 10) / 10;
}
const OPTS = { clusterCIDR: "10.0.0.0/8" };

/** Input with one service's slice replaced by a new object (a 1-service change). */
function withChangedSlice(input: ReturnType<typeof makeInput>, s: number, generation: number) {
  const endpointSlices = [...input.endpointSlices];
  endpointSlices[s] = makeSlice(s, generation);
  return { ...input, endpointSlices };
}

/**
 * Runs `step` `runs` times, collecting garbage before each. Reports the median wall ms, the first
 * run's, and the median CPU ms (which also counts V8's background GC and compiler threads).
 */
function measure<T>(runs: number, step: () => T): { result: T; text: string; wallMedian: number } {
  const wall: number[] = [];
  const cpu: number[] = [];
  let result: T | undefined;
  for (let i = 0; i < runs; i++) {
    gc();
    const c = cpuNow();
    const t = performance.now();
    result = step();
    wall.push(performance.now() - t);
    cpu.push(cpuNow() - c);
  }
  const wallMedian = median(wall);
  return {
    result: result!,
    wallMedian,
    text: `${wallMedian} (first ${Math.round(wall[0]!)}, CPU ${median(cpu)})`,
  };
}

type Row = (string | number)[];
/** What a generation child reports: its table rows and the median wall ms of each full payload. */
interface Generation {
  rows: Row[];
  fullMs: Record<string, number>;
}

// Generation at one size, in a fresh process holding what a proxy holds (the input objects and a
// model): rows of the table, as JSON.
if (process.argv[2] === "--generation-child") {
  const n = Number(process.argv[3]);
  const rows: Row[] = [];
  const input = makeInput(n);
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const built = measure(5, () => buildProxyModel(input).model);
  const model = built.result;
  rows.push([n, "build model", built.text, "-", mib(process.memoryUsage().heapUsed - heap0)]);
  const fromObjects = measure(5, () => createNftablesBackend(OPTS).sync(buildProxyModel(input).model).lines);
  rows.push([n, "objects to nft upstream full transaction (model + generation)", fromObjects.text, "-", "-"]);
  const full = {
    iptables: measure(5, () => createIptablesBackend(OPTS).sync(model).lines),
    "nft upstream": measure(5, () => createNftablesBackend(OPTS).sync(model).lines),
    "nft compact": measure(5, () => createNftablesBackend({ ...OPTS, layout: "compact" }).sync(model).lines),
  };
  for (const [kind, m] of Object.entries(full)) rows.push([n, `${kind} full payload`, m.text, m.result, "-"]);

  // Steady state, as in a running proxy: 20 consecutive 1-service changes, median wall ms each.
  const backends = {
    iptables: createIptablesBackend(OPTS),
    "nft upstream": createNftablesBackend(OPTS),
    "nft compact": createNftablesBackend({ ...OPTS, layout: "compact" }),
  };
  for (const b of Object.values(backends)) b.sync(model);
  const builder = createProxyModelBuilder({ nodeName: input.nodeName });
  for (const svc of input.services) builder.upsertService(svc);
  for (const sl of input.endpointSlices) builder.upsertEndpointSlice(sl);
  builder.build();
  const times: Record<string, number[]> = { rebuild: [], incremental: [] };
  const lines: Record<string, number> = {};
  let prev = model;
  let prevInput = input;
  for (let k = 0; k < 20; k++) {
    const s = (k * 7919) % n;
    const next = withChangedSlice(prevInput, s, k + 1);
    let t = performance.now();
    const m = buildProxyModel(next, { previous: prev }).model;
    times.rebuild!.push(performance.now() - t);
    t = performance.now();
    builder.upsertEndpointSlice(next.endpointSlices[s]!);
    builder.build();
    times.incremental!.push(performance.now() - t);
    for (const [kind, b] of Object.entries(backends)) {
      t = performance.now();
      lines[kind] = b.sync(m).lines;
      const list = times[kind] ?? [];
      list.push(performance.now() - t);
      times[kind] = list;
    }
    prev = m;
    prevInput = next;
  }
  const steady = (what: string, ms: number[], l: number | string = "-") =>
    rows.push([n, `steady state: ${what} (median of 20)`, median(ms), l, "-"]);
  steady("rebuild model with buildProxyModel, 1 service changed", times.rebuild!);
  steady("incremental model builder, 1 slice changed", times.incremental!);
  for (const kind of Object.keys(backends)) steady(`${kind} 1-service payload`, times[kind]!, lines[kind]);
  const fullMs = Object.fromEntries(Object.entries(full).map(([kind, m]) => [kind, m.wallMedian]));
  console.log(JSON.stringify({ rows, fullMs } satisfies Generation));
  process.exit(0);
}

// Memory of one proxier in its own process: input objects (what informers hold anyway), the model,
// and one backend after a full and a 1-service sync.
if (process.argv[2] === "--memory-child") {
  const n = Number(process.argv[3]);
  const kind = process.argv[4]!;
  gc();
  const base = process.memoryUsage();
  const input = makeInput(n);
  gc();
  const afterInput = process.memoryUsage();
  const { model } = buildProxyModel(input);
  const backend =
    kind === "iptables"
      ? createIptablesBackend(OPTS)
      : createNftablesBackend({ ...OPTS, layout: kind === "nft-compact" ? "compact" : "upstream" });
  backend.sync(model);
  const next = withChangedSlice(input, 0, 1);
  const model2 = buildProxyModel(next, { previous: model }).model;
  backend.sync(model2);
  gc();
  const end = process.memoryUsage();
  // Steady state of this one proxier: 20 single-service changes, wall ms per step.
  let prev = model2;
  let prevInput = next;
  const rebuild: number[] = [];
  const sync: number[] = [];
  for (let k = 0; k < 20; k++) {
    const s = (k * 7919) % n;
    const nx = withChangedSlice(prevInput, s, k + 2);
    let t = performance.now();
    const m = buildProxyModel(nx, { previous: prev }).model;
    rebuild.push(performance.now() - t);
    t = performance.now();
    backend.sync(m);
    sync.push(performance.now() - t);
    prev = m;
    prevInput = nx;
  }
  console.log(
    JSON.stringify({
      inputHeapMiB: mib(afterInput.heapUsed - base.heapUsed),
      modelAndBackendHeapMiB: mib(end.heapUsed - afterInput.heapUsed),
      rssMiB: mib(end.rss),
      peakRssMiB: Math.round(process.resourceUsage().maxRSS / 1024),
      rebuildMs: median(rebuild),
      syncMs: median(sync),
    }),
  );
  process.exit(0);
}

async function inFreshNetns<T>(fn: (netns: string) => Promise<T>): Promise<T> {
  const netns = `nrbench-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  execFileSync("ip", ["netns", "add", netns]);
  try {
    return await fn(netns);
  } finally {
    execFileSync("ip", ["netns", "del", netns]);
  }
}

async function apply(netns: string, argv: string[], input: string | readonly string[]): Promise<number> {
  const t0 = performance.now();
  const r = await runCommand(argv, input, { netns, timeoutMs: 1_800_000 });
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stderr.slice(0, 500)}`);
  return wallMs(t0);
}

/** Runs this file again in a fresh Node process with `flags` and `args`; parses what it prints. */
function child<T>(flags: string[], args: string[], env: NodeJS.ProcessEnv = process.env): T {
  const out = execFileSync(
    process.execPath,
    ["--expose-gc", ...flags, new URL(import.meta.url).pathname, ...args],
    { encoding: "utf8", maxBuffer: 1 << 24, env },
  );
  return JSON.parse(out) as T;
}
const baselineIndex = process.argv.indexOf("--baseline");
const baseline = baselineIndex > 0 ? resolve(process.argv[baselineIndex + 1] ?? "") : undefined;

const table: string[] = [];
const row = (...cells: Row) => {
  const line = `| ${cells.join(" | ")} |`;
  table.push(line);
  console.log(line);
};

console.log(
  `node ${process.version}, ${EPS} endpoints per service, sizes ${SIZES.join("/")}, load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")}`,
);
row("services", "step", "ms", "lines", "heap MiB");
row("---", "---", "---", "---", "---");

for (const n of SIZES) {
  const generation = child<Generation>([], ["--generation-child", String(n)]);
  const before = baseline
    ? child<Generation>([], ["--generation-child", String(n)], { ...process.env, [BASELINE_ENV]: baseline })
        .rows
    : [];
  for (const r of generation.rows) {
    row(...r);
    const b = before.find((x) => x[1] === r[1]);
    if (b) row(b[0]!, `  baseline: ${b[1]}`, ...b.slice(2));
  }
  if (!APPLY || n > NFT_APPLY_MAX) continue;

  const input = makeInput(n);
  const { model } = buildProxyModel(input);
  const model2 = buildProxyModel(withChangedSlice(input, Math.floor(n / 2), 1), { previous: model }).model;
  if (n <= IPT_APPLY_MAX) {
    const ipt = createIptablesBackend(OPTS);
    const full = ipt.sync(model);
    const partial = ipt.sync(model2);
    await inFreshNetns(async (netns) => {
      const restore = ["iptables-restore", "-w", "--noflush", "--counters"];
      row(n, "APPLY iptables-restore full", await apply(netns, restore, full.chunks), full.lines, "-");
      row(
        n,
        "APPLY iptables-restore 1-service partial",
        await apply(netns, restore, partial.chunks),
        partial.lines,
        "-",
      );
    });
  }
  for (const layout of ["upstream", "compact"] as const) {
    const full = createNftablesBackend({ ...OPTS, layout }).sync(model);
    await inFreshNetns(async (netns) => {
      const applyMs = await apply(netns, ["nft", "-f", "-"], full.chunks);
      row(n, `APPLY nft ${layout} full`, applyMs, full.lines, "-");
      const ratio = Math.round((generation.fullMs[`nft ${layout}`]! / applyMs) * 1000) / 10;
      row(n, `generation / apply (nft ${layout} full)`, `${ratio}%`, "-", "-");
      // End to end 1-service change, as kubenode-proxy does it: the slice goes into the
      // incremental model builder, then generate and nft -f. Median of 5.
      const nft = createNftablesBackend({ ...OPTS, layout });
      const builder = createProxyModelBuilder({ nodeName: input.nodeName });
      for (const svc of input.services) builder.upsertService(svc);
      for (const sl of input.endpointSlices) builder.upsertEndpointSlice(sl);
      nft.sync(builder.build().model);
      const times: number[] = [];
      const applyTimes: number[] = [];
      for (let k = 1; k <= 5; k++) {
        const slice = makeSlice(Math.floor(n / 2), k + 1);
        gc();
        const t = performance.now();
        builder.upsertEndpointSlice(slice);
        const tx = nft.sync(builder.build().model);
        applyTimes.push(await apply(netns, ["nft", "-f", "-"], tx.chunks));
        times.push(performance.now() - t);
      }
      row(n, `APPLY nft ${layout} 1-service change end to end (median of 5)`, median(times), "-", "-");
      row(n, `  of which nft -f (median of 5)`, median(applyTimes), "-", "-");
      // The floor: spawning nft in the namespace with a command that needs no cache.
      const floor: number[] = [];
      for (let k = 0; k < 5; k++)
        floor.push(await apply(netns, ["nft", "-f", "-"], "add table ip kube-proxy\n"));
      row(n, `  nft -f floor (no cache load, median of 5)`, median(floor), "-", "-");
      // Flush detection: `nft list tables` loads the whole cache; re-adding the canary chain does not.
      const listTables: number[] = [];
      const canary: number[] = [];
      for (let k = 0; k < 3; k++) {
        listTables.push(await apply(netns, ["nft", "list", "tables"], ""));
        canary.push(await apply(netns, ["nft", "-f", "-"], "add chain ip kube-proxy canary\n"));
      }
      row(n, `  flush check: nft list tables (median of 3)`, median(listTables), "-", "-");
      row(n, `  flush check: re-add canary chain (median of 3)`, median(canary), "-", "-");
    });
  }
}

if (!process.argv.includes("--no-memory")) {
  row(
    "services",
    "memory (own process)",
    "input heap MiB",
    "model+backend heap MiB",
    "rss MiB",
    "peak rss MiB",
    "1-service rebuild / sync wall ms (median of 20)",
  );
  for (const n of SIZES) {
    for (const kind of ["iptables", "nft-upstream", "nft-compact"]) {
      // Node's default young generation grows to 2 x 64 MiB (no pointer compression) and keeps
      // that RSS after allocation bursts; kubenode-proxy runs with --max-semi-space-size=2.
      for (const flags of [[], ["--max-semi-space-size=2"]]) {
        const m = child<Record<string, number>>(flags, ["--memory-child", String(n), kind]);
        const label = `${kind} ${flags.join(" ") || "(default flags)"}`;
        row(
          n,
          label,
          m.inputHeapMiB!,
          m.modelAndBackendHeapMiB!,
          m.rssMiB!,
          m.peakRssMiB!,
          `${m.rebuildMs} / ${m.syncMs}`,
        );
      }
    }
  }
}
console.log(
  `\nload average at the end: ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")}`,
);
console.log(`\nmarkdown:\n${table.join("\n")}`);
