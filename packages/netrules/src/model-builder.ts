import { NetrulesError } from "./errors.js";
import {
  buildService,
  type ModelError,
  NO_SLICES,
  type ProxyModel,
  SERVICE_NAME_LABEL,
  type ServicePortModel,
  type ServiceSource,
  type SourceMap,
} from "./model.js";
import type { EndpointSliceLike, ServiceLike } from "./types.js";

/** Options of {@link createProxyModelBuilder}. */
export interface ProxyModelBuilderOptions {
  nodeName: string;
  nodeZone?: string | undefined;
}

/**
 * Keeps a proxy model up to date from Service and EndpointSlice changes, the way kube-proxy's
 * change trackers feed its sync loop: each `build()` recomputes only the services whose Service or
 * EndpointSlices changed since the last one, so a 1-service change costs the same at 10 or 10,000
 * services. The result equals `buildProxyModel` over the same objects, services in the order
 * they were first added.
 */
export interface ProxyModelBuilder {
  /** Adds a Service or replaces the one with the same namespace and name. */
  upsertService(service: ServiceLike): void;
  deleteService(namespace: string, name: string): void;
  /** Adds an EndpointSlice or replaces the one with the same namespace and name. */
  upsertEndpointSlice(slice: EndpointSliceLike): void;
  deleteEndpointSlice(namespace: string, name: string): void;
  /** The model of the current objects, with the errors of every invalid Service or slice. */
  build(): { model: ProxyModel; errors: ModelError[] };
}

const key = (namespace: string, name: string) => `${namespace}/${name}`;

/** Creates a {@link ProxyModelBuilder}. */
export function createProxyModelBuilder(options: ProxyModelBuilderOptions): ProxyModelBuilder {
  const { nodeName, nodeZone } = options;
  if (typeof nodeName !== "string" || nodeName === "") {
    throw new NetrulesError("InvalidInput", "createProxyModelBuilder: nodeName must be a non-empty string");
  }
  const services = new Map<string, ServiceLike>();
  /** Service key -> its slices by slice key. */
  const slicesOf = new Map<string, Map<string, EndpointSliceLike>>();
  /** Slice key -> the Service key it belongs to (its kubernetes.io/service-name label). */
  const sliceOwner = new Map<string, string>();
  /** Service key -> computed source; Map order is the services' order in the model. */
  const sources = new Map<string, ServiceSource>();
  const dirty = new Set<string>();
  let last: { model: ProxyModel; errors: ModelError[] } | undefined;

  const forgetSlice = (sliceKey: string) => {
    const owner = sliceOwner.get(sliceKey);
    if (owner === undefined) return;
    sliceOwner.delete(sliceKey);
    const set = slicesOf.get(owner);
    set?.delete(sliceKey);
    if (set?.size === 0) slicesOf.delete(owner);
    dirty.add(owner);
  };

  return {
    upsertService(service) {
      const k = key(service.metadata?.namespace ?? "", service.metadata?.name ?? "");
      services.set(k, service);
      dirty.add(k);
    },
    deleteService(namespace, name) {
      const k = key(namespace, name);
      if (services.delete(k)) dirty.add(k);
    },
    upsertEndpointSlice(slice) {
      const ns = slice.metadata?.namespace ?? "";
      const sliceKey = key(ns, slice.metadata?.name ?? "");
      forgetSlice(sliceKey);
      const svc = slice.metadata?.labels?.[SERVICE_NAME_LABEL];
      if (!svc) return; // not managed for a Service; upstream ignores these too
      const owner = key(ns, svc);
      sliceOwner.set(sliceKey, owner);
      let set = slicesOf.get(owner);
      if (!set) {
        set = new Map();
        slicesOf.set(owner, set);
      }
      set.set(sliceKey, slice);
      dirty.add(owner);
    },
    deleteEndpointSlice(namespace, name) {
      forgetSlice(key(namespace, name));
    },
    build() {
      if (last && dirty.size === 0) return last;
      for (const k of dirty) {
        const service = services.get(k);
        if (!service) {
          sources.delete(k);
          continue;
        }
        const set = slicesOf.get(k);
        const slices = set ? [...set.values()] : NO_SLICES;
        const errors: ModelError[] = [];
        const src: ServiceSource = {
          service,
          slices,
          ports: buildService(service, slices, nodeName, nodeZone, errors),
          errors,
        };
        // A new service goes last; a changed one keeps its place (Map.set on an existing key).
        sources.set(k, src);
      }
      dirty.clear();
      const servicePorts: ServicePortModel[] = [];
      const errors: ModelError[] = [];
      const byService: SourceMap = new Map();
      for (const src of sources.values()) {
        byService.set(src.service, src);
        for (const p of src.ports) servicePorts.push(p);
        for (const e of src.errors) errors.push(e);
      }
      last = { model: { nodeName, nodeZone, servicePorts, sources: byService }, errors };
      return last;
    },
  };
}
