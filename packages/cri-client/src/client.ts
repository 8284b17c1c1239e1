import { statSync } from "node:fs";
import {
  type CallOptions,
  type ChannelOptions,
  Client,
  credentials,
  status as GrpcStatus,
} from "@grpc/grpc-js";
import { parseEndpoint } from "./endpoint.js";
import { CriError, fromStatus } from "./errors.js";
import {
  type DeepPartial,
  ImageServiceDefinition,
  type MessageFns,
  RuntimeServiceDefinition,
  VersionRequest,
  type VersionResponse,
  VersionResponse as VersionResponseFns,
} from "./gen/runtime/v1/api.js";
import { checkResponse, deadlineMs, streamFallbacks, validateRequest } from "./methods.js";

/** Per-call options accepted by every RPC method. */
export interface CriCallOptions {
  /** Aborting cancels the call; it then rejects with CriError `Cancelled`. */
  signal?: AbortSignal | undefined;
  /**
   * Deadline for this call in milliseconds, replacing the RPC's default (see {@link CriClientOptions.timeoutMs}).
   * `Infinity` or 0: no deadline.
   */
  timeoutMs?: number | undefined;
}

/** Options of {@link createCriClient}. */
export interface CriClientOptions {
  /** `unix:///run/containerd/containerd.sock` or a plain socket path. */
  endpoint: string;
  /**
   * Default per-call deadline in milliseconds (the kubelet's `--runtime-request-timeout`, 2 min).
   * RunPodSandbox gets twice this; StopContainer this plus the grace period; ExecSync this plus the
   * exec timeout (no deadline when that is 0); PullImage and GetContainerEvents none.
   */
  timeoutMs?: number | undefined;
  /** Largest response accepted, in bytes. Default 16 MiB, like the kubelet (gRPC's own default is 4 MiB). */
  maxReceiveMessageBytes?: number | undefined;
  /** First reconnect delay after the runtime went away, in ms. Default 100 (kubelet's backoff base). */
  initialReconnectBackoffMs?: number | undefined;
  /** Longest reconnect delay, in ms. Default 3000 (kubelet's backoff cap). */
  maxReconnectBackoffMs?: number | undefined;
  /** Extra @grpc/grpc-js channel options, for tuning. */
  channelOptions?: ChannelOptions | undefined;
}

type RuntimeMethods = typeof RuntimeServiceDefinition.methods;
type ImageMethods = typeof ImageServiceDefinition.methods;
type MethodDescriptor = RuntimeMethods[keyof RuntimeMethods] | ImageMethods[keyof ImageMethods];

type RequestOf<M> = M extends { requestType: MessageFns<infer R> } ? R : never;
type ResponseOf<M> = M extends { responseType: MessageFns<infer R> } ? R : never;

/** A typed CRI method: unary RPCs return a promise, server-streaming RPCs an async iterable. */
export type CriMethod<M> = M extends { responseStream: true }
  ? (request?: DeepPartial<RequestOf<M>>, options?: CriCallOptions) => AsyncIterable<ResponseOf<M>>
  : (request?: DeepPartial<RequestOf<M>>, options?: CriCallOptions) => Promise<ResponseOf<M>>;

/** Every RuntimeService RPC as a method (`listContainers`, `execSync`, `getContainerEvents`, ...). */
export type RuntimeServiceMethods = { [K in keyof RuntimeMethods]: CriMethod<RuntimeMethods[K]> };
/** Every ImageService RPC as a method (`pullImage`, `listImages`, ...). */
export type ImageServiceMethods = { [K in keyof ImageMethods]: CriMethod<ImageMethods[K]> };

/** Names of the CRI RPCs as the API spells them (`ListContainers`). */
export type CriRpcName =
  | RuntimeMethods[keyof RuntimeMethods]["name"]
  | ImageMethods[keyof ImageMethods]["name"];

/** A CRI v1 client for one runtime socket. Create with {@link createCriClient}. */
export interface CriClient extends RuntimeServiceMethods, ImageServiceMethods {
  /** The endpoint as given. */
  readonly endpoint: string;
  /** The unix socket path the endpoint resolved to. */
  readonly socketPath: string;
  /**
   * Checks that the runtime serves CRI v1 (the kubelet requires it since 1.26) and returns its
   * Version. Fails with `UnsupportedRuntime`, naming the runtime, when it only speaks v1alpha2, and
   * with `Unavailable` naming the socket when nothing listens there.
   */
  connect(options?: CriCallOptions): Promise<VersionResponse>;
  /**
   * Whether the runtime implements an RPC, as learnt from calls so far: `false` once it answered
   * UNIMPLEMENTED, `true` once it answered anything else, `undefined` before it was called.
   */
  supports(rpc: CriRpcName): boolean | undefined;
  /** Closes the connection; later calls fail with `Closed`. */
  close(): void;
}

const DEFAULT_TIMEOUT_MS = 2 * 60 * 1000;
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;

function toBuffer(bytes: Uint8Array): Buffer {
  // No copy: grpc-js only needs a Buffer view of the encoded bytes.
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

interface Codec {
  rpc: string;
  path: string;
  requestType: MessageFns<unknown>;
  serialize(value: unknown): Buffer;
  deserialize(bytes: Buffer): unknown;
}

function codecFor(serviceFullName: string, descriptor: MethodDescriptor): Codec {
  const requestType = descriptor.requestType as MessageFns<unknown>;
  const responseType = descriptor.responseType as MessageFns<unknown>;
  return {
    rpc: descriptor.name,
    path: `/${serviceFullName}/${descriptor.name}`,
    requestType,
    serialize: (value) => toBuffer(requestType.encode(value).finish()),
    deserialize: (bytes) => responseType.decode(bytes),
  };
}

/**
 * Creates a CRI v1 client (RuntimeService + ImageService) on @grpc/grpc-js. Nothing is sent until
 * the first call; call {@link CriClient.connect} to check the runtime first, as the kubelet does.
 *
 * @example
 * const cri = createCriClient({ endpoint: "unix:///run/containerd/containerd.sock" });
 * await cri.connect();
 * const { containers } = await cri.listContainers({});
 * cri.close();
 */
export function createCriClient(options: CriClientOptions): CriClient {
  const { socketPath, target } = parseEndpoint(options.endpoint);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!(timeoutMs > 0)) throw new CriError("InvalidArgument", `timeoutMs must be > 0, got ${timeoutMs}`);
  const grpc = new Client(target, credentials.createInsecure(), {
    // Mirrors k8s.io/cri-client: authority "localhost", 16 MiB messages, 100 ms -> 3 s reconnects.
    "grpc.default_authority": "localhost",
    "grpc.max_receive_message_length": options.maxReceiveMessageBytes ?? MAX_MESSAGE_BYTES,
    "grpc.max_send_message_length": options.maxReceiveMessageBytes ?? MAX_MESSAGE_BYTES,
    "grpc.initial_reconnect_backoff_ms": options.initialReconnectBackoffMs ?? 100,
    "grpc.max_reconnect_backoff_ms": options.maxReconnectBackoffMs ?? 3000,
    "grpc.enable_retries": 0,
    "grpc.enable_channelz": 0,
    ...options.channelOptions,
  });
  let closed = false;
  const support = new Map<string, boolean>();

  function remember(rpc: string, error: CriError | undefined): void {
    if (!error) support.set(rpc, true);
    else if (error.code === "Unimplemented") support.set(rpc, false);
    else if (
      error.code !== "Unavailable" &&
      error.code !== "Cancelled" &&
      error.code !== "DeadlineExceeded"
    ) {
      support.set(rpc, true);
    }
  }

  function mapError(codec: Codec, error: unknown, signal: AbortSignal | undefined): CriError {
    if (signal?.aborted) {
      return new CriError("Cancelled", `${codec.rpc}: cancelled`, { rpc: codec.rpc, cause: signal.reason });
    }
    const e = error as { code?: unknown; details?: unknown };
    if (typeof e?.code === "number" && typeof e.details === "string") {
      let details = e.details;
      if (e.code === GrpcStatus.UNAVAILABLE) details = `${details} (runtime socket ${socketPath})`;
      return fromStatus(e.code, details, codec.rpc, error);
    }
    return CriError.from(error, codec.rpc);
  }

  /** Builds the message, validates it and computes call options; throws CriError. */
  function prepare(codec: Codec, request: unknown, opts: CriCallOptions | undefined) {
    if (closed) throw new CriError("Closed", `${codec.rpc}: the CRI client is closed`, { rpc: codec.rpc });
    if (opts?.signal?.aborted) {
      throw new CriError("Cancelled", `${codec.rpc}: cancelled`, {
        rpc: codec.rpc,
        cause: opts.signal.reason,
      });
    }
    if (request !== undefined && (request === null || typeof request !== "object")) {
      throw new CriError("InvalidArgument", `${codec.rpc}: the request must be an object`, {
        rpc: codec.rpc,
      });
    }
    let message: unknown;
    try {
      message = codec.requestType.fromPartial(request ?? {});
    } catch (error) {
      throw new CriError("InvalidArgument", `${codec.rpc}: malformed request: ${(error as Error).message}`, {
        rpc: codec.rpc,
        cause: error,
      });
    }
    validateRequest(codec.rpc, message);
    const ms = deadlineMs(codec.rpc, message, timeoutMs, opts?.timeoutMs);
    const callOptions: CallOptions = ms === undefined ? {} : { deadline: Date.now() + ms };
    return { message, callOptions };
  }

  function unary(codec: Codec) {
    return (request?: unknown, opts?: CriCallOptions): Promise<unknown> => {
      let prepared: ReturnType<typeof prepare>;
      try {
        prepared = prepare(codec, request, opts);
      } catch (error) {
        return Promise.reject(error);
      }
      const signal = opts?.signal;
      return new Promise((resolve, reject) => {
        const call = grpc.makeUnaryRequest(
          codec.path,
          codec.serialize,
          codec.deserialize,
          prepared.message,
          prepared.callOptions,
          (error, response) => {
            signal?.removeEventListener("abort", onAbort);
            if (error) {
              const mapped = mapError(codec, error, signal);
              remember(codec.rpc, mapped);
              reject(mapped);
              return;
            }
            remember(codec.rpc, undefined);
            try {
              checkResponse(codec.rpc, response);
              resolve(response);
            } catch (invalid) {
              reject(invalid);
            }
          },
        );
        const onAbort = () => call.cancel();
        signal?.addEventListener("abort", onAbort, { once: true });
      });
    };
  }

  async function* serverStream(codec: Codec, request: unknown, opts: CriCallOptions | undefined) {
    const { message, callOptions } = prepare(codec, request, opts);
    const signal = opts?.signal;
    const call = grpc.makeServerStreamRequest(
      codec.path,
      codec.serialize,
      codec.deserialize,
      message,
      callOptions,
    );
    const onAbort = () => call.cancel();
    signal?.addEventListener("abort", onAbort, { once: true });
    let ok = false;
    try {
      for await (const item of call) {
        if (!ok) remember(codec.rpc, undefined);
        ok = true;
        yield item;
      }
      remember(codec.rpc, undefined);
    } catch (error) {
      const mapped = mapError(codec, error, signal);
      remember(codec.rpc, mapped);
      throw mapped;
    } finally {
      signal?.removeEventListener("abort", onAbort);
      // Stops the stream when the caller broke out of the loop early; a no-op once it ended.
      call.cancel();
    }
  }

  const client = {} as Record<string, unknown>;

  function streamWithFallback(codec: Codec) {
    const fallback = streamFallbacks[codec.rpc];
    return (request?: unknown, opts?: CriCallOptions): AsyncIterable<unknown> => {
      if (!fallback) return serverStream(codec, request, opts);
      // The kubelet falls back to List* when a runtime does not know the Stream* RPC; the
      // UNIMPLEMENTED status only arrives on the first read. The outcome is remembered.
      return (async function* () {
        const useUnary = async () => {
          const list = client[fallback.unary] as (r: unknown, o?: CriCallOptions) => Promise<unknown>;
          return fallback.toStreamResponse(await list(request, opts));
        };
        if (support.get(codec.rpc) === false) {
          yield await useUnary();
          return;
        }
        let yielded = false;
        try {
          for await (const item of serverStream(codec, request, opts)) {
            yielded = true;
            yield item;
          }
        } catch (error) {
          if (yielded || !(error instanceof CriError) || error.code !== "Unimplemented") throw error;
          yield await useUnary();
        }
      })();
    };
  }

  const services = [RuntimeServiceDefinition, ImageServiceDefinition] as const;
  for (const service of services) {
    for (const [method, descriptor] of Object.entries(service.methods) as [string, MethodDescriptor][]) {
      const codec = codecFor(service.fullName, descriptor);
      client[method] = descriptor.responseStream ? streamWithFallback(codec) : unary(codec);
    }
  }

  const versionV1 = client.version as CriClient["version"];

  async function connect(opts?: CriCallOptions): Promise<VersionResponse> {
    try {
      return await versionV1({ version: "v1" }, opts);
    } catch (error) {
      if (error instanceof CriError && error.code === "Unavailable") {
        let reason = "nothing is listening there";
        try {
          if (!statSync(socketPath).isSocket()) reason = "it is not a unix socket";
        } catch {
          reason = "the socket does not exist";
        }
        throw new CriError(
          "Unavailable",
          `cannot reach the CRI runtime at ${options.endpoint}: ${reason} (${error.runtimeMessage ?? error.message})`,
          { rpc: "Version", runtimeMessage: error.runtimeMessage, cause: error },
        );
      }
      if (!(error instanceof CriError) || error.code !== "Unimplemented") throw error;
      const old = await versionV1alpha2(opts).catch(() => undefined);
      const who = old ? `${old.runtimeName} ${old.runtimeVersion}` : "the runtime";
      throw new CriError(
        "UnsupportedRuntime",
        `${who} at ${options.endpoint} does not serve CRI v1 (runtime.v1.RuntimeService)` +
          (old ? ` - it speaks ${old.runtimeApiVersion}` : "") +
          "; CRI v1 is required (kubelet >= 1.26)",
        { rpc: "Version", runtimeMessage: error.runtimeMessage, cause: error },
      );
    }
  }

  function versionV1alpha2(opts?: CriCallOptions): Promise<VersionResponse> {
    // runtime.v1alpha2's Version messages have the same fields and numbers as v1's.
    return new Promise((resolve, reject) => {
      grpc.makeUnaryRequest(
        "/runtime.v1alpha2.RuntimeService/Version",
        (v: VersionRequest) => toBuffer(VersionRequest.encode(v).finish()),
        (b: Buffer) => VersionResponseFns.decode(b),
        VersionRequest.fromPartial({ version: "v1alpha2" }),
        { deadline: Date.now() + (opts?.timeoutMs ?? timeoutMs) },
        (error, response) => (error || !response ? reject(error) : resolve(response)),
      );
    });
  }

  Object.assign(client, {
    endpoint: options.endpoint,
    socketPath,
    connect,
    supports: (rpc: CriRpcName) => support.get(rpc),
    close: () => {
      if (closed) return;
      closed = true;
      grpc.close();
    },
  });
  return client as unknown as CriClient;
}
