import type { ResourceDef } from "../resources.js";
import type { StorageEvent } from "../storage.js";
import type { Json, KubeObject } from "../types.js";
import { type ControllerContext, ignoreMissing } from "./context.js";

/**
 * The garbage collector (always on: part of the API semantics tests rely on). Mirrors
 * kube-controller-manager's garbagecollector: dependents of a deleted owner are deleted
 * (background), deleted first (foreground, `foregroundDeletion` finalizer; blockOwnerDeletion
 * holds the owner) or orphaned (`orphan` finalizer); dependents whose owners are all gone are
 * deleted.
 */
export function startGarbageCollector(ctx: ControllerContext): void {
  const { core, storage, watch, enqueue } = ctx;
  const byUid = new Map<string, { def: ResourceDef; ns: string; name: string }>();
  const dependents = new Map<string, Set<string>>();
  const depKey = (def: ResourceDef, o: KubeObject): string =>
    `${def.key}|${o.metadata.namespace ?? ""}|${o.metadata.name}`;
  const parseDepKey = (k: string): { def: ResourceDef; ns: string; name: string } | undefined => {
    const [key, ns, name] = k.split("|");
    const def = core.storedResources().find((r) => r.key === key);
    return def ? { def, ns: ns!, name: name! } : undefined;
  };
  const ownerExists = (ref: Json, ns: string): boolean => {
    const loc = byUid.get(ref.uid);
    if (loc) return true;
    const def = core.storedResources().find((r) => r.apiVersion === ref.apiVersion && r.kind === ref.kind);
    if (!def) return true; // kinds the simulator does not serve are assumed to exist
    const o = core.find(def, def.namespaced ? ns : "", ref.name);
    return o !== undefined && o.metadata.uid === ref.uid;
  };
  const processDependent = (k: string, ownerUid: string, foreground: boolean): void => {
    const loc = parseDepKey(k);
    if (!loc) return;
    const obj = core.find(loc.def, loc.ns, loc.name);
    if (!obj) return;
    const refs = obj.metadata.ownerReferences ?? [];
    if (!refs.some((r) => r.uid === ownerUid)) return;
    const others = refs.filter((r) => r.uid !== ownerUid && ownerExists(r, loc.ns));
    if (others.length > 0) {
      // solid owners remain: drop the dangling reference only
      core.mutate(loc.def, loc.ns, loc.name, (o) => {
        o.metadata.ownerReferences = o.metadata.ownerReferences.filter((r: Json) => r.uid !== ownerUid);
        return o;
      });
      return;
    }
    ignoreMissing(() =>
      core.delete(loc.def, loc.ns, loc.name, { propagationPolicy: foreground ? "Foreground" : "Background" }),
    );
  };
  const removeFinalizer = (def: ResourceDef, o: KubeObject, f: string): void => {
    ignoreMissing(() =>
      core.mutate(def, o.metadata.namespace ?? "", o.metadata.name, (x) => {
        x.metadata.finalizers = (x.metadata.finalizers ?? []).filter((y: string) => y !== f);
        if (!x.metadata.finalizers.length) delete x.metadata.finalizers;
        return x;
      }),
    );
  };
  const checkForeground = (uid: string): void => {
    const loc = byUid.get(uid);
    if (!loc) return;
    const o = core.find(loc.def, loc.ns, loc.name);
    if (!o?.metadata.deletionTimestamp || !(o.metadata.finalizers ?? []).includes("foregroundDeletion"))
      return;
    const blocking = [...(dependents.get(uid) ?? [])].filter((k) => {
      const d = parseDepKey(k);
      const obj = d && core.find(d.def, d.ns, d.name);
      return obj?.metadata.ownerReferences?.some((r) => r.uid === uid && r.blockOwnerDeletion);
    });
    if (blocking.length === 0) removeFinalizer(loc.def, o, "foregroundDeletion");
  };
  const onGcEvent =
    (def: ResourceDef) =>
    (ev: StorageEvent): void => {
      const o = ev.object;
      const key = depKey(def, o);
      for (const r of ev.prev?.metadata.ownerReferences ?? []) dependents.get(r.uid)?.delete(key);
      if (ev.type === "DELETED") {
        byUid.delete(o.metadata.uid);
        const uid = o.metadata.uid;
        const deps = [...(dependents.get(uid) ?? [])];
        const foreground = (ev.prev?.metadata.finalizers ?? []).includes("foregroundDeletion");
        if (deps.length)
          enqueue(() => {
            for (const k of deps) processDependent(k, uid, foreground);
          });
        for (const r of o.metadata.ownerReferences ?? []) {
          const ownerUid = r.uid;
          enqueue(() => checkForeground(ownerUid));
        }
        return;
      }
      byUid.set(o.metadata.uid, { def, ns: o.metadata.namespace ?? "", name: o.metadata.name });
      for (const r of o.metadata.ownerReferences ?? []) {
        let set = dependents.get(r.uid);
        if (!set) {
          set = new Set();
          dependents.set(r.uid, set);
        }
        set.add(key);
      }
      if (ev.type === "ADDED" && o.metadata.ownerReferences?.length) {
        // an object created with only absent owners is garbage (owner deleted before it was created)
        const refs = o.metadata.ownerReferences;
        enqueue(() => {
          const cur = core.find(def, o.metadata.namespace ?? "", o.metadata.name);
          if (!cur || cur.metadata.uid !== o.metadata.uid) return;
          if (refs.every((r) => !ownerExists(r, o.metadata.namespace ?? "")))
            ignoreMissing(() => core.delete(def, o.metadata.namespace ?? "", o.metadata.name, {}));
        });
      }
      const fins = o.metadata.finalizers ?? [];
      if (o.metadata.deletionTimestamp && fins.includes("orphan")) {
        const uid = o.metadata.uid;
        enqueue(() => {
          for (const k of [...(dependents.get(uid) ?? [])]) {
            const d = parseDepKey(k);
            if (!d) continue;
            ignoreMissing(() =>
              core.mutate(d.def, d.ns, d.name, (x) => {
                x.metadata.ownerReferences = (x.metadata.ownerReferences ?? []).filter(
                  (r: Json) => r.uid !== uid,
                );
                if (!x.metadata.ownerReferences.length) delete x.metadata.ownerReferences;
                return x;
              }),
            );
          }
          const cur = core.find(def, o.metadata.namespace ?? "", o.metadata.name);
          if (cur) removeFinalizer(def, cur, "orphan");
        });
      }
      if (
        o.metadata.deletionTimestamp &&
        fins.includes("foregroundDeletion") &&
        !ev.prev?.metadata.deletionTimestamp
      ) {
        const uid = o.metadata.uid;
        enqueue(() => {
          for (const k of [...(dependents.get(uid) ?? [])]) {
            const d = parseDepKey(k);
            if (d) ignoreMissing(() => core.delete(d.def, d.ns, d.name, { propagationPolicy: "Foreground" }));
          }
          checkForeground(uid);
        });
      }
    };
  for (const def of core.storedResources()) {
    for (const o of storage.list(def.key))
      onGcEvent(def)({ type: "ADDED", resource: def.key, rv: 0, object: o });
    watch(def, onGcEvent(def));
  }
}
