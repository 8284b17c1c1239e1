import { describe, expect, it } from "vitest";
import { createCleanup } from "./cleanup.js";
import { TestkitError } from "./errors.js";

describe("createCleanup", () => {
  it("runs steps newest first and reports what it did", async () => {
    const order: string[] = [];
    const cleanup = createCleanup();
    for (const name of ["registry", "containerd", "pod"]) cleanup.add(name, () => order.push(name));
    await expect(cleanup.run()).resolves.toEqual(["pod", "containerd", "registry"]);
    expect(order).toEqual(["pod", "containerd", "registry"]);
  });

  it("runs every step after a failure and reports all failures together", async () => {
    const ran: string[] = [];
    const cleanup = createCleanup();
    cleanup.add("registry", () => ran.push("registry"));
    cleanup.add("containerd", async () => {
      ran.push("containerd");
      throw new Error("device or resource busy");
    });
    cleanup.add("pod", () => {
      ran.push("pod");
      throw new Error("sandbox not found");
    });
    const err = await cleanup.run().then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(ran).toEqual(["pod", "containerd", "registry"]);
    expect(err).toBeInstanceOf(TestkitError);
    expect((err as TestkitError).code).toBe("CleanupFailed");
    expect((err as TestkitError).message).toContain("pod: sandbox not found");
    expect((err as TestkitError).message).toContain("containerd: device or resource busy");
    expect(((err as TestkitError).cause as AggregateError).errors).toHaveLength(2);
  });

  it("runs each step once: a second run has nothing left to do", async () => {
    let calls = 0;
    const cleanup = createCleanup();
    cleanup.add("once", () => calls++);
    await cleanup.run();
    await expect(cleanup.run()).resolves.toEqual([]);
    expect(calls).toBe(1);
  });
});
