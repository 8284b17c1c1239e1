import type { ResourceDef } from "../resources.js";
import { type Controller, type ControllerContext, ignoreMissing, R } from "./context.js";

/**
 * The namespace controller plus the service-account and root-CA publishers: each live namespace
 * gets its `default` ServiceAccount and (with a CA) the `kube-root-ca.crt` ConfigMap; a deleted
 * namespace has its content deleted, then the `kubernetes` finalizer removed.
 */
export function createNamespaceController(ctx: ControllerContext, caPem: string | undefined): Controller {
  const { core, storage, watch, trigger } = ctx;
  const namespaces = R("", "namespaces");
  const serviceaccounts = R("", "serviceaccounts");
  const configmaps = R("", "configmaps");
  const sync = (): void => {
    for (const n of storage.list(namespaces.key)) {
      const ns = n.metadata.name;
      if (!n.metadata.deletionTimestamp) {
        if (!core.find(serviceaccounts, ns, "default"))
          ignoreMissing(() => core.create(serviceaccounts, ns, { metadata: { name: "default" } }));
        if (caPem && !core.find(configmaps, ns, "kube-root-ca.crt"))
          ignoreMissing(() =>
            core.create(configmaps, ns, {
              metadata: {
                name: "kube-root-ca.crt",
                annotations: {
                  "kubernetes.io/description":
                    "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.",
                },
              },
              data: { "ca.crt": caPem },
            }),
          );
        continue;
      }
      let remaining = 0;
      for (const def of core.storedResources()) {
        if (!def.namespaced) continue;
        for (const o of storage.list(def.key, ns)) {
          remaining++;
          if (!o.metadata.deletionTimestamp) ignoreMissing(() => core.delete(def, ns, o.metadata.name));
        }
      }
      if (remaining) continue;
      if ((n.spec?.finalizers ?? []).includes("kubernetes"))
        ignoreMissing(() =>
          core.update(
            namespaces,
            "",
            ns,
            {
              metadata: { name: ns },
              spec: { finalizers: n.spec.finalizers.filter((f: string) => f !== "kubernetes") },
            },
            { subresource: "finalize" },
          ),
        );
      const cur = core.find(namespaces, "", ns);
      if (cur && !(cur.spec?.finalizers ?? []).length && !(cur.metadata.finalizers ?? []).length)
        storage.write(namespaces.key, "DELETED", { ...cur, metadata: { ...cur.metadata } }, cur);
    }
  };
  watch(namespaces, () => trigger("namespaces"));
  watch(serviceaccounts, (e) => {
    if (e.type === "DELETED") trigger("namespaces");
  });
  watch(configmaps, (e) => {
    if (e.type === "DELETED" && e.object.metadata.name === "kube-root-ca.crt") trigger("namespaces");
  });
  const nsWatch = (def: ResourceDef): void =>
    watch(def, (e) => {
      if (e.type === "DELETED") {
        const n = core.find(namespaces, "", e.object.metadata.namespace ?? "");
        if (n?.metadata.deletionTimestamp) trigger("namespaces");
      }
    });
  for (const def of core.storedResources()) if (def.namespaced) nsWatch(def);
  return { name: "namespaces", sync };
}
