// Generation and apply benchmark. Run: npm run bench (builds, then runs this file with Node 24).
// Apply numbers need root (they create fresh network namespaces); pass --no-apply to skip them.
import { execFileSync } from "node:child_process";
import { loadavg } from "node:os";
import {
  buildProxyModel,
  createIptablesBackend,
  createNftablesBackend,
  createProxyModelBuilder,
  type EndpointSliceLike,
  type ProxyModel,
  runCommand,
  type ServiceLike,
} from "../dist/index.js";

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

async function inFreshNetns<T>(fn: (netns: string) => Promise<T>): Promise<T> {
  const netns = `nrbench-${process.pid}-${Math.floor(Math.random() * 1e6)}`;
  execFileSync("ip", ["netns", "add", netns]);
  try {
    return await fn(netns);
  } finally {
    execFileSync("ip", ["netns", "del", netns]);
  }
}

async function apply(netns: string, argv: string[], payload: string): Promise<number> {
  const t0 = performance.now();
  const r = await runCommand(argv, payload, { netns, timeoutMs: 1_800_000 });
  if (r.code !== 0) throw new Error(`${argv.join(" ")} failed: ${r.stderr.slice(0, 500)}`);
  return wallMs(t0);
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
      ? createIptablesBackend({ clusterCIDR: "10.0.0.0/8" })
      : createNftablesBackend({
          clusterCIDR: "10.0.0.0/8",
          layout: kind === "nft-compact" ? "compact" : "upstream",
        });
  backend.sync(model);
  const next = { ...input, endpointSlices: [...input.endpointSlices] };
  next.endpointSlices[0] = makeSlice(0, 1);
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
    const nx = { ...prevInput, endpointSlices: [...prevInput.endpointSlices] };
    nx.endpointSlices[s] = makeSlice(s, k + 2);
    let c = performance.now();
    const m = buildProxyModel(nx, { previous: prev }).model;
    rebuild.push(performance.now() - c);
    c = performance.now();
    backend.sync(m);
    sync.push(performance.now() - c);
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

const rows: string[] = [];
const row = (...cells: (string | number)[]) => {
  const line = `| ${cells.join(" | ")} |`;
  rows.push(line);
  console.log(line);
};

console.log(
  `node ${process.version}, ${EPS} endpoints per service, sizes ${SIZES.join("/")}, load average ${loadavg()
    .map((x) => x.toFixed(1))
    .join(" ")}`,
);
row("services", "step", "ms", "lines", "heap MiB", "rss MiB");
row("---", "---", "---", "---", "---", "---");

/**
 * Runs `step` `runs` times, collecting garbage before each: wall ms of each run, and this
 * process's CPU ms (which also counts V8's background GC and compiler threads).
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

for (const n of SIZES) {
  const input = makeInput(n);
  gc();
  const heap0 = process.memoryUsage().heapUsed;
  const built = measure(3, () => buildProxyModel(input).model);
  const model = built.result;
  row(
    n,
    "build model",
    built.text,
    "-",
    mib(process.memoryUsage().heapUsed - heap0),
    mib(process.memoryUsage().rss),
  );
  const fromObjects = measure(3, () =>
    createNftablesBackend({ clusterCIDR: "10.0.0.0/8" }).sync(buildProxyModel(input).model),
  );
  row(n, "objects to nft upstream full transaction (model + generation)", fromObjects.text, "-", "-", "-");

  // 1-service change: a new slice object for one service, model rebuilt with reuse.
  const changedInput = { ...input, endpointSlices: [...input.endpointSlices] };
  changedInput.endpointSlices[Math.floor(n / 2)] = makeSlice(Math.floor(n / 2), 1);
  const model2: ProxyModel = buildProxyModel(changedInput, { previous: model }).model;

  const opts = { clusterCIDR: "10.0.0.0/8" };
  const iptFull = measure(3, () => createIptablesBackend(opts).sync(model));
  row(n, "iptables full payload", iptFull.text, iptFull.result.lines, "-", mib(process.memoryUsage().rss));
  const ipt = createIptablesBackend(opts);
  ipt.sync(model);
  const iptPartial = ipt.sync(model2);
  row(n, "iptables 1-service partial payload (lines)", "-", iptPartial.lines, "-", "-");

  const results: Record<string, { full: string; fullMs: number }> = {};
  for (const layout of ["upstream", "compact"] as const) {
    const full = measure(3, () => createNftablesBackend({ ...opts, layout }).sync(model));
    row(
      n,
      `nft ${layout} full transaction`,
      full.text,
      full.result.lines,
      "-",
      mib(process.memoryUsage().rss),
    );
    const nft = createNftablesBackend({ ...opts, layout });
    nft.sync(model);
    row(n, `nft ${layout} 1-service transaction (lines)`, "-", nft.sync(model2).lines, "-", "-");
    results[layout] = { full: full.result.payload, fullMs: full.wallMedian };
  }
  // Steady state, as in a running proxy: 20 consecutive 1-service changes, median wall ms per step.
  {
    const nftC = createNftablesBackend({ clusterCIDR: "10.0.0.0/8", layout: "compact" });
    const nftU = createNftablesBackend({ clusterCIDR: "10.0.0.0/8" });
    nftC.sync(model2);
    nftU.sync(model2);
    ipt.sync(model2);
    let prev = model2;
    let prevInput = changedInput;
    const rebuild: number[] = [];
    const incremental: number[] = [];
    const builder = createProxyModelBuilder({ nodeName: changedInput.nodeName });
    for (const svc of changedInput.services) builder.upsertService(svc);
    for (const sl of changedInput.endpointSlices) builder.upsertEndpointSlice(sl);
    builder.build();
    const tc: number[] = [];
    const tu: number[] = [];
    const ti: number[] = [];
    for (let k = 0; k < 20; k++) {
      const s = (k * 7919) % n;
      const next = { ...prevInput, endpointSlices: [...prevInput.endpointSlices] };
      next.endpointSlices[s] = makeSlice(s, k + 2);
      let c = performance.now();
      const m = buildProxyModel(next, { previous: prev }).model;
      rebuild.push(performance.now() - c);
      c = performance.now();
      builder.upsertEndpointSlice(next.endpointSlices[s]!);
      builder.build();
      incremental.push(performance.now() - c);
      c = performance.now();
      nftC.sync(m);
      tc.push(performance.now() - c);
      c = performance.now();
      nftU.sync(m);
      tu.push(performance.now() - c);
      c = performance.now();
      ipt.sync(m);
      ti.push(performance.now() - c);
      prev = m;
      prevInput = next;
    }
    row(n, "steady state: rebuild model, 1 service changed (median of 20)", median(rebuild), "-", "-", "-");
    row(
      n,
      "steady state: incremental model builder, 1 slice changed (median of 20)",
      median(incremental),
      "-",
      "-",
      "-",
    );
    row(n, "steady state: nft compact 1-service transaction (median of 20)", median(tc), "-", "-", "-");
    row(n, "steady state: nft upstream 1-service transaction (median of 20)", median(tu), "-", "-", "-");
    row(n, "steady state: iptables 1-service partial payload (median of 20)", median(ti), "-", "-", "-");
  }
  gc();
  row(
    n,
    "heap held (model x2 + 3 backends)",
    "-",
    "-",
    mib(process.memoryUsage().heapUsed - heap0),
    mib(process.memoryUsage().rss),
  );

  if (APPLY && n <= IPT_APPLY_MAX) {
    await inFreshNetns(async (netns) => {
      const payload = iptFull.result.payload;
      const full = await apply(netns, ["iptables-restore", "-w", "--noflush", "--counters"], payload);
      row(n, "APPLY iptables-restore full", full, iptFull.result.lines, "-", "-");
      const part = await apply(
        netns,
        ["iptables-restore", "-w", "--noflush", "--counters"],
        iptPartial.payload,
      );
      row(n, "APPLY iptables-restore 1-service partial", part, iptPartial.lines, "-", "-");
    });
  }
  if (APPLY && n <= NFT_APPLY_MAX) {
    for (const layout of ["upstream", "compact"] as const) {
      const r = results[layout]!;
      await inFreshNetns(async (netns) => {
        const full = await apply(netns, ["nft", "-f", "-"], r.full);
        row(n, `APPLY nft ${layout} full`, full, r.full.split("\n").length, "-", "-");
        row(
          n,
          `generation / apply (nft ${layout} full)`,
          `${Math.round((r.fullMs / full) * 1000) / 10}%`,
          "-",
          "-",
          "-",
        );
        // End to end 1-service change, as kubenode-proxy does it: the slice goes into the
        // incremental model builder, then generate and nft -f. Median of 5.
        const nft = createNftablesBackend({ clusterCIDR: "10.0.0.0/8", layout });
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
          const a = await apply(netns, ["nft", "-f", "-"], tx.payload);
          times.push(performance.now() - t);
          applyTimes.push(a);
        }
        row(n, `APPLY nft ${layout} 1-service change end to end (median of 5)`, median(times), "-", "-", "-");
        // The floor: spawning nft in the namespace with a command that needs no cache.
        const floor: number[] = [];
        for (let k = 0; k < 5; k++)
          floor.push(await apply(netns, ["nft", "-f", "-"], "add table ip kube-proxy\n"));
        row(n, `  nft -f floor (no cache load, median of 5)`, median(floor), "-", "-", "-");
        // Flush detection: `nft list tables` loads the whole cache; re-adding the canary chain does not.
        const listTables: number[] = [];
        const canary: number[] = [];
        for (let k = 0; k < 3; k++) {
          listTables.push(await apply(netns, ["nft", "list", "tables"], ""));
          canary.push(await apply(netns, ["nft", "-f", "-"], "add chain ip kube-proxy canary\n"));
        }
        row(n, `  flush check: nft list tables (median of 3)`, median(listTables), "-", "-", "-");
        row(n, `  flush check: re-add canary chain (median of 3)`, median(canary), "-", "-", "-");
        row(n, `  of which nft -f (median of 5)`, median(applyTimes), "-", "-", "-");
      });
    }
  }
}
if (process.argv.includes("--memory") || !process.argv.includes("--no-memory")) {
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
      // V8's default young generation keeps ~100 MiB of RSS after allocation bursts; a node agent
      // can trade a little GC time for a lot of RSS with --max-semi-space-size.
      for (const flags of [[], ["--max-semi-space-size=2"]]) {
        const out = execFileSync(
          process.execPath,
          ["--expose-gc", ...flags, new URL(import.meta.url).pathname, "--memory-child", String(n), kind],
          { encoding: "utf8", maxBuffer: 1 << 20 },
        );
        const m = JSON.parse(out) as Record<string, number>;
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
console.log("\nmarkdown:\n" + rows.join("\n"));
