import { KubeError } from "@kubenode/kube";

/**
 * The error our client raises for a Kubernetes `Status` failure, as a real API server would send it.
 * @param {number} code HTTP status
 * @param {string} reason `Status.reason`, e.g. "NotFound", "Conflict"
 * @param {string} message `Status.message`
 */
export function statusError(code, reason, message) {
  return KubeError.fromResponse(code, { kind: "Status", status: "Failure", code, reason, message });
}

/**
 * A `KubeClient` answering from memory, for unit tests driven by a fake clock. Every request is
 * recorded (with the time it was made), then: an API that is down fails it with `Network`; an
 * injected fault for its method fails it; else `handle` answers (throw `statusError(...)` for a
 * 404, 409...). Watches are not supported.
 * @param {import("./index.d.mts").FakeKubeClientOptions} options
 * @returns {import("./index.d.mts").FakeKubeClient}
 */
export function createFakeKubeClient(options) {
  const now = options.now ?? Date.now;
  /** @type {import("./index.d.mts").FakeCall[]} */
  const calls = [];
  /** @type {{ method: string; error: KubeError; times: number }[]} */
  const faults = [];
  let down = false;

  /** @param {import("@kubenode/kube").KubeRequest} req */
  async function request(req) {
    calls.push({
      method: req.method,
      path: req.path,
      body: req.body,
      contentType: req.contentType,
      atMs: now(),
    });
    // Answer asynchronously, as the network would.
    await Promise.resolve();
    if (down) throw new KubeError("Network", "connect ECONNREFUSED 127.0.0.1:6443");
    const fault = faults.find((f) => f.method === req.method && f.times > 0);
    if (fault) {
      fault.times--;
      throw fault.error;
    }
    return options.handle(req);
  }

  /** @type {import("@kubenode/kube").KubeClient} */
  const client = {
    connection: { server: "http://fake" },
    stats: { requests: 0, failures: 0 },
    request,
    // biome-ignore lint/correctness/useYield: the fake serves no watches
    async *watch() {
      throw new KubeError("BadRequest", "watch not supported by the fake");
    },
    close() {},
  };
  return {
    client,
    calls,
    inject(method, error, times = 1) {
      faults.push({ method, error, times });
    },
    setDown(value) {
      down = value;
    },
  };
}
