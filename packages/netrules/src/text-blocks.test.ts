import { describe, expect, it } from "vitest";
import { ep, slice, svc } from "./__tests__/fixtures.js";
import { createIptablesBackend } from "./iptables.js";
import { buildProxyModel } from "./model.js";
import { createNftablesBackend } from "./nftables.js";
import { TextBlocks, withPayload } from "./text-blocks.js";

describe("TextBlocks", () => {
  it("keeps every line, in order, across block boundaries", () => {
    const text = new TextBlocks();
    const expected: string[] = [];
    // ~1.3M characters: several sealed blocks, lines of varied length, some pushed joined.
    for (let i = 0; i < 20_000; i++) {
      const line = `line ${i} ${"x".repeat(i % 97)}`;
      if (i % 10 === 0) {
        text.push(`${line}\n${line} again`, 2);
        expected.push(line, `${line} again`);
      } else {
        text.push(line);
        expected.push(line);
      }
    }
    const other = new TextBlocks();
    other.push("appended");
    text.append(other);
    expected.push("appended");
    const chunks = text.chunks();
    expect(chunks.length).toBeGreaterThan(3);
    for (const c of chunks) expect(c.endsWith("\n")).toBe(true);
    expect(chunks.join("")).toBe(`${expected.join("\n")}\n`);
    expect(text.lines).toBe(expected.length);
  });

  it("is empty when nothing was pushed, and joins the payload once, on first use", () => {
    expect(new TextBlocks().chunks()).toEqual([]);
    const text = new TextBlocks();
    text.push("a");
    text.push("b");
    const result = withPayload({ lines: text.lines }, text);
    expect(result.payload).toBe("a\nb\n");
    expect(result.payload).toBe(result.payload);
    expect({ ...result }).toEqual({ lines: 2, chunks: ["a\nb\n"], payload: "a\nb\n" });
  });
});

describe("large payloads", () => {
  // 3000 services x 4 endpoints: both payloads span several blocks.
  const services = [];
  const slices = [];
  for (let i = 0; i < 3000; i++) {
    const ns = `ns${i % 7}`;
    services.push(
      svc(ns, `svc${i}`, { clusterIP: `172.30.${i >> 8}.${i & 255}`, ports: [{ name: "p", port: 80 }] }),
    );
    slices.push(
      slice(
        ns,
        `svc${i}`,
        [0, 1, 2, 3].map((e) => ep(`10.${e}.${i >> 8}.${i & 255}`, `node-${e}`)),
        [{ name: "p", port: 8080 }],
      ),
    );
  }
  const { model } = buildProxyModel({ nodeName: "node-0", services, endpointSlices: slices });

  it.each([
    ["iptables", () => createIptablesBackend({ clusterCIDR: "10.0.0.0/8" }).sync(model)],
    ["nftables", () => createNftablesBackend({ clusterCIDR: "10.0.0.0/8" }).sync(model)],
  ])("%s: chunks end at line boundaries and add up to the payload", (_, sync) => {
    const r = sync();
    expect(r.chunks.length).toBeGreaterThan(1);
    for (const c of r.chunks) expect(c.endsWith("\n")).toBe(true);
    const lines = r.payload.split("\n");
    expect(lines.pop()).toBe("");
    expect(lines).toHaveLength(r.lines);
    // No line was glued to the next or split in two where blocks meet.
    expect(lines.every((l) => /^(add |delete |table |\t|\}|\*|:|-A |COMMIT)/.test(l))).toBe(true);
  });
});
