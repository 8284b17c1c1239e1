// An in-process gRPC server on a unix socket that speaks CRI v1 (or only v1alpha2), for unit tests
// of the client's wire behaviour. Only the handlers a test passes are implemented; grpc-js answers
// UNIMPLEMENTED for the rest, as containerd does for RPCs it does not know.
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Server,
  ServerCredentials,
  type ServiceDefinition,
  type UntypedServiceImplementation,
} from "@grpc/grpc-js";
import {
  ImageServiceDefinition,
  type MessageFns,
  RuntimeServiceDefinition,
  VersionRequest,
  VersionResponse,
} from "../gen/runtime/v1/api.js";

type Generic = typeof RuntimeServiceDefinition | typeof ImageServiceDefinition;

/** grpc-js service definition whose handlers may answer with partial messages. */
function lenient(service: Generic): ServiceDefinition {
  const def: Record<string, unknown> = {};
  for (const [key, m] of Object.entries(service.methods)) {
    const req = m.requestType as MessageFns<unknown>;
    const res = m.responseType as MessageFns<unknown>;
    def[key] = {
      path: `/${service.fullName}/${m.name}`,
      requestStream: m.requestStream,
      responseStream: m.responseStream,
      requestSerialize: (v: unknown) => Buffer.from(req.encode(req.fromPartial(v as never)).finish()),
      requestDeserialize: (b: Buffer) => req.decode(b),
      responseSerialize: (v: unknown) => Buffer.from(res.encode(res.fromPartial(v as never)).finish()),
      responseDeserialize: (b: Buffer) => res.decode(b),
    };
  }
  return def as ServiceDefinition;
}

export interface FakeRuntime {
  readonly endpoint: string;
  readonly socketPath: string;
  stop(): Promise<void>;
}

export interface FakeRuntimeOptions {
  runtime?: UntypedServiceImplementation;
  image?: UntypedServiceImplementation;
  /** Serve only runtime.v1alpha2's Version (a runtime too old for the kubelet). */
  v1alpha2Only?: boolean;
}

export async function startFakeRuntime(options: FakeRuntimeOptions = {}): Promise<FakeRuntime> {
  const dir = mkdtempSync(join(tmpdir(), "kn-cri-fake-"));
  const socketPath = join(dir, "cri.sock");
  const server = new Server();
  if (options.v1alpha2Only) {
    server.addService(
      {
        version: {
          path: "/runtime.v1alpha2.RuntimeService/Version",
          requestStream: false,
          responseStream: false,
          requestSerialize: (v: VersionRequest) => Buffer.from(VersionRequest.encode(v).finish()),
          requestDeserialize: (b: Buffer) => VersionRequest.decode(b),
          responseSerialize: (v: VersionResponse) => Buffer.from(VersionResponse.encode(v).finish()),
          responseDeserialize: (b: Buffer) => VersionResponse.decode(b),
        },
      },
      {
        version: (_call: unknown, cb: (e: null, r: VersionResponse) => void) =>
          cb(null, {
            version: "0.1.0",
            runtimeName: "oldtime",
            runtimeVersion: "0.9.1",
            runtimeApiVersion: "v1alpha2",
          }),
      },
    );
  } else {
    server.addService(lenient(RuntimeServiceDefinition), options.runtime ?? {});
    server.addService(lenient(ImageServiceDefinition), options.image ?? {});
  }
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(`unix://${socketPath}`, ServerCredentials.createInsecure(), (err) =>
      err ? reject(err) : resolve(),
    ),
  );
  return {
    endpoint: `unix://${socketPath}`,
    socketPath,
    stop: async () => {
      server.forceShutdown();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
