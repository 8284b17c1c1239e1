import { CriError } from "./errors.js";

/** A CRI endpoint resolved to a unix socket. */
export interface CriEndpoint {
  /** Absolute or relative filesystem path of the socket. */
  socketPath: string;
  /** The gRPC target (`unix:///abs/path` or `unix:rel/path`). */
  target: string;
}

/**
 * Parses a CRI endpoint: `unix:///run/containerd/containerd.sock` or a plain socket path.
 * Only unix sockets are accepted, like the kubelet's remote runtime on Linux.
 */
export function parseEndpoint(endpoint: string): CriEndpoint {
  if (typeof endpoint !== "string" || endpoint.trim() === "") {
    throw new CriError(
      "InvalidArgument",
      "endpoint must be a non-empty string (unix:///path or a socket path)",
    );
  }
  let socketPath: string;
  if (endpoint.startsWith("unix://")) socketPath = endpoint.slice("unix://".length);
  else if (endpoint.startsWith("unix:")) socketPath = endpoint.slice("unix:".length);
  else if (/^[a-z][a-z0-9+.-]*:\/\//i.test(endpoint)) {
    throw new CriError(
      "InvalidArgument",
      `endpoint ${JSON.stringify(endpoint)}: only unix sockets are supported (unix:///path or a plain path)`,
    );
  } else socketPath = endpoint;
  if (socketPath === "") {
    throw new CriError("InvalidArgument", `endpoint ${JSON.stringify(endpoint)} has an empty socket path`);
  }
  const target = socketPath.startsWith("/") ? `unix://${socketPath}` : `unix:${socketPath}`;
  return { socketPath, target };
}
