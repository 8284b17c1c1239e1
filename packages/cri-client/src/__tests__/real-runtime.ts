// Helpers for integration tests against the private containerd from @kubenode/testkit.
import { randomUUID } from "node:crypto";
import { join } from "node:path";
import { type Containerd, canUseRealComponents } from "@kubenode/testkit";
import type { CriClient } from "../client.js";
import {
  type ContainerConfig,
  type DeepPartial,
  NamespaceMode,
  type PodSandboxConfig,
} from "../gen/runtime/v1/api.js";

/** Packages the private containerd needs; the test file FAILS under CI=true when they cannot be had. */
export const CONTAINERD_PACKAGES = [
  "containerd",
  "runc",
  "containernetworking-plugins",
  "umoci",
  "busybox-static",
  "iproute2",
];

export function canRunContainerd(extra: string[] = []): Promise<boolean> {
  return canUseRealComponents([...CONTAINERD_PACKAGES, ...extra]);
}

/** A pod sandbox config like the kubelet builds, logging under the containerd instance's dir. */
export function sandboxConfig(
  ctd: Containerd,
  name: string,
  options: { hostNetwork?: boolean } = {},
): DeepPartial<PodSandboxConfig> {
  const uid = randomUUID();
  return {
    metadata: { name, namespace: "default", uid, attempt: 0 },
    // Like the kubelet: a host-network pod keeps the node's hostname (runc cannot set one without a UTS namespace).
    ...(options.hostNetwork ? {} : { hostname: name }),
    logDirectory: join(ctd.dir, "pod-logs", `default_${name}_${uid}`),
    labels: { "io.kubernetes.pod.name": name },
    linux: {
      securityContext: {
        namespaceOptions: { network: options.hostNetwork ? NamespaceMode.NODE : NamespaceMode.POD },
      },
    },
  };
}

/** A busybox container config running `script` with sh. */
export function shellContainer(
  ctd: Containerd,
  name: string,
  script: string,
  extra: DeepPartial<ContainerConfig> = {},
) {
  return {
    metadata: { name, attempt: 0 },
    image: { image: ctd.busyboxImage },
    command: ["sh", "-c", script],
    logPath: `${name}/0.log`,
    ...extra,
  } satisfies DeepPartial<ContainerConfig>;
}

/** Runs a sandbox and one started container in it; returns their IDs. */
export async function runPod(
  cri: CriClient,
  ctd: Containerd,
  name: string,
  script: string,
  extra: DeepPartial<ContainerConfig> = {},
  options: { hostNetwork?: boolean } = {},
) {
  const config = sandboxConfig(ctd, name, options);
  const { podSandboxId } = await cri.runPodSandbox({ config });
  const { containerId } = await cri.createContainer({
    podSandboxId,
    sandboxConfig: config,
    config: shellContainer(ctd, "main", script, extra),
  });
  await cri.startContainer({ containerId });
  return { podSandboxId, containerId, config };
}

/** Removes a sandbox and its containers, ignoring what is already gone. */
export async function removePod(cri: CriClient, podSandboxId: string): Promise<void> {
  await cri.stopPodSandbox({ podSandboxId }).catch(() => {});
  await cri.removePodSandbox({ podSandboxId }).catch(() => {});
}
