import { describe, expect, it } from "vitest";
import type { Pod } from "../api.js";
import {
  containerAnnotations,
  containerHash,
  containerLabels,
  intAnnotation,
  sandboxLabels,
} from "./labels.js";

const pod: Pod = {
  metadata: {
    name: "web",
    namespace: "prod",
    uid: "u-1",
    labels: { app: "web", "io.kubernetes.pod.name": "spoof" },
  },
  spec: {
    terminationGracePeriodSeconds: 45,
    containers: [{ name: "c", image: "nginx:1.27", ports: [{ containerPort: 80 }] }],
  },
};

describe("kubelet labels and annotations", () => {
  it("hashes a container like upstream (test vector of container_hash_test.go)", () => {
    expect(containerHash({ name: "test_container", image: "foo/image:v1" })).toBe("8e45cbd0");
  });

  it("puts pod labels on sandboxes with the identity labels on top, and only identity labels on containers", () => {
    expect(sandboxLabels(pod)).toEqual({
      app: "web",
      "io.kubernetes.pod.name": "web",
      "io.kubernetes.pod.namespace": "prod",
      "io.kubernetes.pod.uid": "u-1",
    });
    expect(containerLabels(pod, pod.spec.containers[0]!)).toEqual({
      "io.kubernetes.pod.name": "web",
      "io.kubernetes.pod.namespace": "prod",
      "io.kubernetes.pod.uid": "u-1",
      "io.kubernetes.container.name": "c",
    });
  });

  it("writes restart count, hash, termination message settings, grace period and ports as annotations", () => {
    expect(containerAnnotations(pod, pod.spec.containers[0]!, 3)).toEqual({
      "io.kubernetes.container.hash": containerHash(pod.spec.containers[0]!),
      "io.kubernetes.container.restartCount": "3",
      "io.kubernetes.container.terminationMessagePath": "/dev/termination-log",
      "io.kubernetes.container.terminationMessagePolicy": "File",
      "io.kubernetes.pod.terminationGracePeriod": "45",
      "io.kubernetes.container.ports": '[{"containerPort":80}]',
    });
  });

  it("reads missing or unparsable counts as 0", () => {
    expect(intAnnotation({ a: "7" }, "a")).toBe(7);
    expect(intAnnotation({ a: "x7" }, "a")).toBe(0);
    expect(intAnnotation(undefined, "a")).toBe(0);
  });
});
