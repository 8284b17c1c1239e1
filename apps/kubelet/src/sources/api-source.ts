// API pod source (upstream config/apiserver.go): list+watch of pods bound to this node through
// kube's informer (paginated list, watch with bookmarks, relist on 410). Mirror pods are handed to
// the mirror handler instead of being run.
import { type Clock, createInformer, type Informer, type KubeClient, type Logger } from "@kubenode/kube";
import type { Pod } from "../api.js";
import {
  CONFIG_SEEN_ANNOTATION,
  CONFIG_SOURCE_ANNOTATION,
  configSeenTime,
  isMirrorPod,
  type PodSource,
  type PodSourceHandler,
} from "./types.js";

/** Options of {@link createApiPodSource}. */
export interface ApiPodSourceOptions {
  client: KubeClient;
  nodeName: string;
  clock: Clock;
  logger: Logger;
  handler: PodSourceHandler;
  /** Every API view of a pod (run pods and mirror pods), e.g. for the status manager. */
  onApiPod?(pod: Pod): void;
  /** Mirror pods seen or removed. */
  onMirror?(pod: Pod, removed: boolean): void;
}

export function createApiPodSource(
  options: ApiPodSourceOptions,
): PodSource & { readonly informer: Informer<Pod> } {
  const { handler, clock } = options;
  const log = options.logger.withName("source.api");
  const seen = new Map<string, string>();
  const informer = createInformer<Pod>({
    client: options.client,
    path: "/api/v1/pods",
    fieldSelector: `spec.nodeName=${options.nodeName}`,
    clock,
  });

  function decorate(pod: Pod): Pod {
    const uid = pod.metadata.uid ?? "";
    let when = seen.get(uid);
    if (!when) {
      when = configSeenTime(clock.now());
      seen.set(uid, when);
    }
    return {
      ...pod,
      metadata: {
        ...pod.metadata,
        annotations: {
          ...pod.metadata.annotations,
          [CONFIG_SOURCE_ANNOTATION]: "api",
          [CONFIG_SEEN_ANNOTATION]: when,
        },
      },
    };
  }

  function upsert(pod: Pod): void {
    options.onApiPod?.(pod);
    if (isMirrorPod(pod)) {
      options.onMirror?.(pod, false);
      return;
    }
    handler.upsert(decorate(pod));
  }

  informer.on("add", upsert);
  informer.on("update", upsert);
  informer.on("delete", (pod) => {
    if (isMirrorPod(pod)) {
      options.onMirror?.(pod, true);
      return;
    }
    seen.delete(pod.metadata.uid ?? "");
    handler.remove(pod.metadata.uid ?? "");
  });
  informer.on("error", (err) => log.warn("watching pods failed; retrying", { err: err.message }));

  return {
    name: "api",
    informer,
    async start() {
      informer.start();
    },
    stop: () => informer.stop(),
    synced: () => informer.isSynced(),
  };
}
