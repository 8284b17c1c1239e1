// Mirror pods (upstream pod/mirror_client.go + kubelet.go/kubelet_pods.go): each static pod gets a
// copy in the API, annotated kubernetes.io/config.mirror = its config hash and owned by the Node, so
// the control plane sees it. A mirror whose hash is stale or that is being deleted is deleted
// (grace 0, UID precondition) and recreated; mirrors without a static pod are deleted.
import { type KubeClient, KubeError, type Logger } from "@kubenode/kube";
import type { Pod } from "../api.js";
import {
  CONFIG_HASH_ANNOTATION,
  CONFIG_MIRROR_ANNOTATION,
  CONFIG_SEEN_ANNOTATION,
  CONFIG_SOURCE_ANNOTATION,
} from "./types.js";

/** Options of {@link createMirrorPodManager}. */
export interface MirrorPodManagerOptions {
  client: KubeClient;
  nodeName: string;
  logger: Logger;
}

export interface MirrorPodManager {
  /** Records a mirror pod seen in the API (or its removal). */
  observe(mirror: Pod, removed: boolean): void;
  /** The mirror pod of a static pod, by namespace/name, if seen. */
  mirrorOf(staticPod: Pod): Pod | undefined;
  /** Creates, replaces and deletes mirror pods so they match `staticPods`. Reports every failure. */
  reconcile(staticPods: readonly Pod[]): Promise<void>;
}

function key(pod: Pod): string {
  return `${pod.metadata.namespace ?? "default"}/${pod.metadata.name}`;
}

/** The mirror pod object for a static pod. */
export function mirrorPodFor(staticPod: Pod, node: { name: string; uid: string }): Pod {
  const annotations = { ...staticPod.metadata.annotations };
  // The kubelet-local annotations stay local; the mirror carries the hash it mirrors.
  delete annotations[CONFIG_SEEN_ANNOTATION];
  delete annotations[CONFIG_SOURCE_ANNOTATION];
  annotations[CONFIG_MIRROR_ANNOTATION] =
    staticPod.metadata.annotations?.[CONFIG_HASH_ANNOTATION] ?? staticPod.metadata.uid ?? "";
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: staticPod.metadata.name!,
      namespace: staticPod.metadata.namespace ?? "default",
      ...(staticPod.metadata.labels ? { labels: staticPod.metadata.labels } : {}),
      annotations,
      ownerReferences: [{ apiVersion: "v1", kind: "Node", name: node.name, uid: node.uid, controller: true }],
    },
    spec: staticPod.spec,
  };
}

export function createMirrorPodManager(options: MirrorPodManagerOptions): MirrorPodManager {
  const { client, nodeName } = options;
  const log = options.logger.withName("mirror");
  const mirrors = new Map<string, Pod>();
  let nodeUid: string | undefined;

  async function node(): Promise<{ name: string; uid: string }> {
    if (!nodeUid) {
      const n = await client.request<{ metadata?: { uid?: string } }>({
        method: "GET",
        path: `/api/v1/nodes/${encodeURIComponent(nodeName)}`,
      });
      nodeUid = n.metadata?.uid;
      if (!nodeUid) throw new KubeError("NotFound", `node ${nodeName} has no uid`);
    }
    return { name: nodeName, uid: nodeUid };
  }

  async function remove(m: Pod): Promise<void> {
    try {
      await client.request({
        method: "DELETE",
        path: `/api/v1/namespaces/${encodeURIComponent(m.metadata.namespace ?? "default")}/pods/${encodeURIComponent(m.metadata.name ?? "")}`,
        body: {
          kind: "DeleteOptions",
          apiVersion: "v1",
          gracePeriodSeconds: 0,
          preconditions: { uid: m.metadata.uid },
        },
      });
    } catch (err) {
      if (!(err instanceof KubeError && (err.code === "NotFound" || err.code === "Conflict"))) throw err;
    }
    mirrors.delete(key(m));
  }

  return {
    observe(mirror, removed) {
      if (removed) {
        if (mirrors.get(key(mirror))?.metadata.uid === mirror.metadata.uid) mirrors.delete(key(mirror));
      } else mirrors.set(key(mirror), mirror);
    },
    mirrorOf: (staticPod) => mirrors.get(key(staticPod)),
    async reconcile(staticPods) {
      const errors: unknown[] = [];
      const wanted = new Map(staticPods.map((p) => [key(p), p]));
      for (const [k, m] of [...mirrors]) {
        const s = wanted.get(k);
        const stale =
          !s ||
          m.metadata.annotations?.[CONFIG_MIRROR_ANNOTATION] !==
            s.metadata.annotations?.[CONFIG_HASH_ANNOTATION];
        if (stale || m.metadata.deletionTimestamp) {
          log.info("deleting mirror pod", {
            pod: k,
            reason: !s ? "no static pod" : stale ? "outdated" : "being deleted",
          });
          await remove(m).catch((e) => errors.push(e));
        }
      }
      for (const [k, s] of wanted) {
        if (mirrors.has(k)) continue;
        try {
          const body = mirrorPodFor(s, await node());
          const created = await client.request<Pod>({
            method: "POST",
            path: `/api/v1/namespaces/${encodeURIComponent(body.metadata.namespace!)}/pods`,
            body,
          });
          mirrors.set(k, created);
          log.info("mirror pod created", { pod: k });
        } catch (err) {
          if (err instanceof KubeError && err.code === "AlreadyExists") continue; // the watch will show it
          errors.push(err);
        }
      }
      if (errors.length > 0)
        throw new AggregateError(errors, `mirror pods: ${errors.length} operation(s) failed`);
    },
  };
}
