import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ServerUnaryCall, type ServerWritableStream, status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { type FakeRuntime, startFakeRuntime } from "./__tests__/fake-runtime.js";
import { type CriClient, createCriClient } from "./client.js";
import { CriError } from "./errors.js";
import {
  type Container,
  ImageServiceDefinition,
  RuntimeServiceDefinition,
  type StreamContainersResponse,
} from "./gen/runtime/v1/api.js";

type Callback<T> = (error: { code: number; details: string } | null, response?: T) => void;

const cleanups: (() => unknown)[] = [];
afterEach(async () => {
  for (const fn of cleanups.splice(0).reverse()) await fn();
});

async function setup(
  handlers: Parameters<typeof startFakeRuntime>[0] = {},
  timeoutMs?: number,
): Promise<{ fake: FakeRuntime; cri: CriClient }> {
  const fake = await startFakeRuntime(handlers);
  cleanups.push(() => fake.stop());
  const cri = createCriClient({ endpoint: fake.endpoint, ...(timeoutMs ? { timeoutMs } : {}) });
  cleanups.push(() => cri.close());
  return { fake, cri };
}

const container = (id: string): Partial<Container> => ({
  id,
  podSandboxId: "p1",
  metadata: { name: `c-${id}`, attempt: 0 },
  // Nanoseconds since the epoch do not fit a double: they must survive as bigint.
  createdAt: 1_764_250_000_123_456_789n,
  labels: { app: "x" },
});

describe("createCriClient", () => {
  it("exposes all 43 CRI v1 RPCs as methods", () => {
    const cri = createCriClient({ endpoint: "/nonexistent/cri.sock" });
    cleanups.push(() => cri.close());
    const names = [
      ...Object.keys(RuntimeServiceDefinition.methods),
      ...Object.keys(ImageServiceDefinition.methods),
    ];
    expect(names).toHaveLength(43);
    for (const name of names)
      expect(typeof (cri as unknown as Record<string, unknown>)[name]).toBe("function");
    expect(names).toEqual(
      expect.arrayContaining([
        "listContainers",
        "streamContainers",
        "getContainerEvents",
        "pullImage",
        "restorePod",
      ]),
    );
  });

  it("sends typed requests and decodes typed responses, 64-bit values as bigint", async () => {
    let seen: unknown;
    const { cri } = await setup({
      runtime: {
        listContainers: (call: ServerUnaryCall<unknown, unknown>, cb: Callback<unknown>) => {
          seen = call.request;
          cb(null, { containers: [container("a"), container("b")] });
        },
      },
    });
    const res = await cri.listContainers({ filter: { podSandboxId: "p1", labelSelector: { app: "x" } } });
    expect(res.containers.map((c) => c.id)).toEqual(["a", "b"]);
    expect(res.containers[0]?.createdAt).toBe(1_764_250_000_123_456_789n);
    expect(seen).toMatchObject({ filter: { podSandboxId: "p1", labelSelector: { app: "x" } } });
  });

  it("applies the kubelet's deadlines: default, 2x for RunPodSandbox, none for PullImage", async () => {
    const deadlines: Record<string, Date | number> = {};
    const { cri } = await setup(
      {
        runtime: {
          version: (call: ServerUnaryCall<unknown, unknown>, cb: Callback<unknown>) => {
            deadlines.version = call.getDeadline();
            cb(null, { runtimeApiVersion: "v1" });
          },
          runPodSandbox: (call: ServerUnaryCall<unknown, unknown>, cb: Callback<unknown>) => {
            deadlines.run = call.getDeadline();
            cb(null, { podSandboxId: "p" });
          },
        },
        image: {
          pullImage: (call: ServerUnaryCall<unknown, unknown>, cb: Callback<unknown>) => {
            deadlines.pull = call.getDeadline();
            cb(null, { imageRef: "sha256:1" });
          },
        },
      },
      60_000,
    );
    const before = Date.now();
    await cri.version({});
    await cri.runPodSandbox({ config: { metadata: { name: "p", namespace: "n", uid: "u" } } });
    await cri.pullImage({ image: { image: "busybox" } });
    const remaining = (d: Date | number | undefined) => {
      const at = d instanceof Date ? d.getTime() : d;
      return at === undefined || at === Number.POSITIVE_INFINITY ? at : at - before;
    };
    expect(remaining(deadlines.version)).toBeGreaterThan(50_000);
    expect(remaining(deadlines.version)).toBeLessThanOrEqual(61_000);
    expect(remaining(deadlines.run)).toBeGreaterThan(110_000);
    expect(deadlines.pull).toBe(Number.POSITIVE_INFINITY);
  });

  it("maps runtime errors to CriError with the RPC and the runtime's message", async () => {
    const { cri } = await setup({
      runtime: {
        containerStatus: (_call: unknown, cb: Callback<unknown>) =>
          cb({
            code: status.NOT_FOUND,
            details: 'an error occurred when try to find container "x": not found',
          }),
      },
    });
    const error = await cri.containerStatus({ containerId: "x" }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CriError);
    expect(error).toMatchObject({
      code: "NotFound",
      rpc: "ContainerStatus",
      runtimeMessage: 'an error occurred when try to find container "x": not found',
    });
  });

  it("rejects bad input before sending anything", async () => {
    let calls = 0;
    const { cri } = await setup({
      image: {
        removeImage: (_call: unknown, cb: Callback<unknown>) => {
          calls++;
          cb(null, {});
        },
      },
    });
    await expect(cri.removeImage({ image: { image: "" } })).rejects.toMatchObject({
      code: "InvalidArgument",
      message: expect.stringContaining("image reference) must not be empty"),
    });
    await expect(cri.removeImage({})).rejects.toThrow(CriError);
    await expect(cri.stopContainer({ containerId: "" })).rejects.toThrow(
      "StopContainer: containerId must not be empty",
    );
    expect(calls).toBe(0);
  });

  it("rejects an OK response that breaks the CRI contract", async () => {
    const { cri } = await setup({
      runtime: { createContainer: (_call: unknown, cb: Callback<unknown>) => cb(null, { containerId: "" }) },
    });
    await expect(
      cri.createContainer({
        podSandboxId: "p",
        config: { metadata: { name: "c" }, image: { image: "busybox" } },
      }),
    ).rejects.toMatchObject({ code: "InvalidResponse", rpc: "CreateContainer" });
  });

  it("cancels a call when its AbortSignal fires", async () => {
    let cancelled = false;
    const ac = new AbortController();
    const { cri } = await setup({
      runtime: {
        // Never answers; the caller gives up once the runtime is working on it.
        status: (call: ServerUnaryCall<unknown, unknown>) => {
          call.on("cancelled", () => (cancelled = true));
          ac.abort(new Error("shutting down"));
        },
      },
    });
    const pending = cri.status({}, { signal: ac.signal });
    const error = (await pending.catch((e: unknown) => e)) as CriError;
    expect(error.code).toBe("Cancelled");
    expect((error.cause as Error).message).toBe("shutting down");
    await expect.poll(() => cancelled).toBe(true);
    await expect(cri.status({}, { signal: ac.signal })).rejects.toMatchObject({ code: "Cancelled" });
  });

  it("reports DeadlineExceeded when the runtime does not answer in time", async () => {
    const { cri } = await setup({ runtime: { status: () => {} } });
    await expect(cri.status({}, { timeoutMs: 50 })).rejects.toMatchObject({
      code: "DeadlineExceeded",
      rpc: "Status",
    });
  });

  it("streams server-streaming RPCs as async iterables", async () => {
    const { cri } = await setup({
      runtime: {
        streamContainers: (call: ServerWritableStream<unknown, StreamContainersResponse>) => {
          call.write({ containers: [container("a") as Container] });
          call.write({ containers: [container("b") as Container] });
          call.end();
        },
      },
    });
    const ids: string[] = [];
    for await (const page of cri.streamContainers({})) ids.push(...page.containers.map((c) => c.id));
    expect(ids).toEqual(["a", "b"]);
    expect(cri.supports("StreamContainers")).toBe(true);
  });

  it("falls back from StreamContainers to ListContainers on runtimes without it, and remembers", async () => {
    let listCalls = 0;
    const { cri } = await setup({
      runtime: {
        listContainers: (_call: unknown, cb: Callback<unknown>) => {
          listCalls++;
          cb(null, { containers: [container("a")] });
        },
      },
    });
    expect(cri.supports("StreamContainers")).toBeUndefined();
    const pages = [];
    for await (const page of cri.streamContainers({})) pages.push(page);
    expect(pages).toEqual([{ containers: [expect.objectContaining({ id: "a" })] }]);
    expect(cri.supports("StreamContainers")).toBe(false);
    for await (const page of cri.streamContainers({})) expect(page.containers).toHaveLength(1);
    expect(listCalls).toBe(2);
  });

  it("reports GetContainerEvents as Unimplemented on runtimes without it (callers poll instead)", async () => {
    const { cri } = await setup();
    const iterate = async () => {
      for await (const _event of cri.getContainerEvents({})) {
        // no events expected
      }
    };
    await expect(iterate()).rejects.toMatchObject({ code: "Unimplemented", rpc: "GetContainerEvents" });
    expect(cri.supports("GetContainerEvents")).toBe(false);
  });

  it("cancels a server stream when the consumer stops early", async () => {
    let cancelled = false;
    const { cri } = await setup({
      runtime: {
        getContainerEvents: (call: ServerWritableStream<unknown, unknown>) => {
          call.on("cancelled", () => (cancelled = true));
          call.write({ containerId: "c1", containerEventType: 1 });
        },
      },
    });
    for await (const event of cri.getContainerEvents({})) {
      expect(event.containerId).toBe("c1");
      break;
    }
    await expect.poll(() => cancelled).toBe(true);
  });
});

describe("connect", () => {
  it("returns the runtime's version when it serves CRI v1", async () => {
    const { cri } = await setup({
      runtime: {
        version: (call: ServerUnaryCall<{ version: string }, unknown>, cb: Callback<unknown>) =>
          cb(null, {
            version: call.request.version,
            runtimeName: "fake",
            runtimeVersion: "1.0",
            runtimeApiVersion: "v1",
          }),
      },
    });
    await expect(cri.connect()).resolves.toEqual({
      version: "v1",
      runtimeName: "fake",
      runtimeVersion: "1.0",
      runtimeApiVersion: "v1",
    });
  });

  it("fails with UnsupportedRuntime naming a runtime that only speaks v1alpha2", async () => {
    const fake = await startFakeRuntime({ v1alpha2Only: true });
    cleanups.push(() => fake.stop());
    const cri = createCriClient({ endpoint: fake.socketPath });
    cleanups.push(() => cri.close());
    const error = (await cri.connect().catch((e: unknown) => e)) as CriError;
    expect(error.code).toBe("UnsupportedRuntime");
    expect(error.message).toContain("oldtime 0.9.1");
    expect(error.message).toContain("speaks v1alpha2");
  });

  it("fails fast with a clear message when the socket does not exist", async () => {
    const dir = mkdtempSync(join(tmpdir(), "kn-cri-missing-"));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const cri = createCriClient({ endpoint: `unix://${dir}/nothing.sock` });
    cleanups.push(() => cri.close());
    const error = (await cri.connect().catch((e: unknown) => e)) as CriError;
    expect(error.code).toBe("Unavailable");
    expect(error.message).toContain(`unix://${dir}/nothing.sock`);
    expect(error.message).toContain("the socket does not exist");
  }, 10_000);

  it("rejects calls after close() with Closed", async () => {
    const { cri } = await setup();
    cri.close();
    await expect(cri.version({})).rejects.toMatchObject({ code: "Closed", rpc: "Version" });
  });
});
