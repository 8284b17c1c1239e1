import { describe, expect, it } from "vitest";
import { createFakeClock } from "./clock.js";
import { createLogger, type LoggerOptions, silentLogger } from "./logger.js";

// 2026-12-06T23:55:41.123Z
const T0 = Date.UTC(2026, 11, 6, 23, 55, 41, 123);

function capture(options: LoggerOptions = {}) {
  const lines: string[] = [];
  const clock = createFakeClock(T0);
  const log = createLogger({ pid: 42, clock, write: (l) => lines.push(l), ...options });
  return { log, lines, clock };
}

describe("createLogger text (klog)", () => {
  it("writes klog's header, the quoted message and key/values", () => {
    const { log, lines } = capture();
    log.info("Pod status updated", { pod: "kube-system/kubedns", ready: true, restarts: 2 });
    expect(lines).toEqual([
      'I1206 23:55:41.123000      42 kubenode] "Pod status updated" pod="kube-system/kubedns" ready=true restarts=2\n',
    ]);
  });

  it("uses W and E severities; err comes first, as klog's ErrorS", () => {
    const { log, lines } = capture();
    log.warn("slow relist", { durationMs: 12 });
    log.error("Failed to sync pod", new Error("boom"), { pod: "default/a" });
    log.error("no error value");
    expect(lines[0]).toMatch(/^W1206 .* "slow relist" durationMs=12\n$/);
    expect(lines[1]).toMatch(/^E1206 .* "Failed to sync pod" err="boom" pod="default\/a"\n$/);
    expect(lines[2]).toMatch(/^E1206 .* "no error value"\n$/);
  });

  it("filters v(level) by verbosity and reports it through enabled()", () => {
    const { log, lines } = capture({ verbosity: 2 });
    log.v(2, "shown");
    log.v(3, "hidden");
    expect(lines).toHaveLength(1);
    expect(lines[0]).toContain('"shown"');
    expect(log.enabled(2)).toBe(true);
    expect(log.enabled(3)).toBe(false);
  });

  it("joins names with '.' under the logger key, like klog's textlogger", () => {
    const { log, lines } = capture();
    log.withName("kubelet").withName("node").info("registered", { node: "n1" });
    expect(lines[0]).toContain('"registered" logger="kubelet.node" node="n1"');
  });

  it("prints multi-line strings in klog's block form and objects as JSON", () => {
    const { log, lines } = capture();
    log.info("config", { text: "a: 1\nb: 2\n", obj: { x: [1, 2] }, none: undefined, err: new Error("e") });
    expect(lines[0]).toContain('text=<\n\ta: 1\n\tb: 2\n > obj={"x":[1,2]} none="<nil>" err="e"');
  });

  it("takes timestamps from the injected clock", async () => {
    const { log, lines, clock } = capture();
    await clock.step(1_000_000); // +16m40s
    log.info("later");
    expect(lines[0]).toMatch(/^I1207 00:12:21\.123000 /);
  });

  it("does not throw on cyclic fields or a throwing writer", () => {
    const { log } = capture();
    const cyclic: { self?: unknown } = {};
    cyclic.self = cyclic;
    expect(() => log.info("cyclic", { cyclic })).not.toThrow();
    const broken = createLogger({
      write: () => {
        throw new Error("EPIPE");
      },
    });
    expect(() => broken.error("x", new Error("y"))).not.toThrow();
  });
});

describe("createLogger json (--logging-format=json)", () => {
  it("uses upstream's keys: ts in ms, v on info records, err on errors", () => {
    const { log, lines } = capture({ format: "json", verbosity: 4 });
    log.v(4, "Log using InfoS", { key: "value" });
    log.error("Log using ErrorS", new Error("fail"));
    expect(lines.map((l) => JSON.parse(l))).toEqual([
      { ts: T0, msg: "Log using InfoS", v: 4, key: "value" },
      { ts: T0, msg: "Log using ErrorS", err: "fail" },
    ]);
    expect(lines.every((l) => l.endsWith("}\n") && !l.slice(0, -1).includes("\n"))).toBe(true);
  });

  it("names the logger and keeps reserved keys upstream's", () => {
    const { log, lines } = capture({ format: "json" });
    log.withName("eviction").warn("threshold met", { msg: "shadow", bytes: 10n });
    expect(JSON.parse(lines[0]!)).toEqual({
      ts: T0,
      logger: "eviction",
      msg: "threshold met",
      v: 0,
      "field.msg": "shadow",
      bytes: "10",
    });
  });
});

describe("options", () => {
  it("rejects an unknown format and a bad verbosity by name", () => {
    expect(() => createLogger({ format: "yaml" as "json" })).toThrow('unknown log format "yaml"');
    expect(() => createLogger({ verbosity: -1 })).toThrow("verbosity must be a non-negative integer, got -1");
  });

  it("silentLogger drops everything, also through withName", () => {
    expect(silentLogger.withName("x")).toBe(silentLogger);
    expect(silentLogger.enabled(0)).toBe(false);
  });
});
