import type { CriClient } from "@kubenode/cri-client";
import type { ContainerImage, ImageProvider, RuntimeInfoProvider } from "@kubenode/node-status";

/**
 * node-status providers backed by a CRI runtime: what the kubelet reports as
 * containerRuntimeVersion, the RuntimeReady/NetworkReady conditions and the node's images.
 */
export function criNodeStatusProviders(cri: CriClient): {
  runtime: RuntimeInfoProvider;
  images: ImageProvider;
} {
  return {
    runtime: {
      async version() {
        const v = await cri.version({});
        return { name: v.runtimeName, version: v.runtimeVersion };
      },
      async status() {
        const { status } = await cri.status({});
        return {
          conditions: (status?.conditions ?? []).map((c) => ({
            type: c.type,
            status: c.status,
            reason: c.reason,
            message: c.message,
          })),
        };
      },
    },
    images: {
      async listImages(): Promise<ContainerImage[]> {
        const { images } = await cri.listImages({});
        // Mirrors the kubelet: an image is known by its tags and digests.
        return images.map((img) => ({
          names: [...img.repoTags, ...img.repoDigests],
          sizeBytes: Number(img.size),
        }));
      },
    },
  };
}
