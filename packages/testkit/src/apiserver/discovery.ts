import { apiGroups, type ResourceDef, resourcesIn } from "./resources.js";
import type { Json } from "./types.js";

/** The version the simulator reports (the API level its behaviour mirrors). */
export const SERVER_VERSION = {
  major: "1",
  minor: "32",
  gitVersion: "v1.32.0-kubenode",
  gitCommit: "0000000000000000000000000000000000000000",
  gitTreeState: "clean",
  buildDate: "2026-01-01T00:00:00Z",
  goVersion: "go1.23.4",
  compiler: "gc",
  platform: "linux/amd64",
};

function storageHash(r: ResourceDef): string {
  let h = 0;
  for (const ch of r.key) h = (h * 31 + ch.charCodeAt(0)) | 0;
  return Buffer.from(String(h >>> 0))
    .toString("base64")
    .slice(0, 11);
}

/** /api (core group versions). */
export function apiVersions(serverAddress: string): Json {
  return {
    kind: "APIVersions",
    versions: ["v1"],
    serverAddressByClientCIDRs: [{ clientCIDR: "0.0.0.0/0", serverAddress }],
  };
}

/** /apis group list. */
export function apiGroupList(): Json {
  return {
    kind: "APIGroupList",
    apiVersion: "v1",
    groups: apiGroups().map(groupDoc),
  };
}

function groupDoc(g: { name: string; versions: string[] }): Json {
  const versions = g.versions.map((v) => ({ groupVersion: `${g.name}/${v}`, version: v }));
  return { name: g.name, versions, preferredVersion: versions[0] };
}

/** /apis/<group>, or undefined when the group is not served. */
export function apiGroup(name: string): Json | undefined {
  const g = apiGroups().find((x) => x.name === name);
  return g ? { kind: "APIGroup", apiVersion: "v1", ...groupDoc(g) } : undefined;
}

/** /api/v1 or /apis/<group>/<version> resource list, or undefined when not served. */
export function apiResourceList(group: string, version: string): Json | undefined {
  const rs = resourcesIn(group, version);
  if (!rs.length) return undefined;
  const resources: Json[] = [];
  for (const r of rs) {
    const entry: Json = {
      name: r.plural,
      singularName: r.singular,
      namespaced: r.namespaced,
      kind: r.kind,
      verbs: r.verbs,
    };
    if (r.shortNames) entry.shortNames = r.shortNames;
    if (r.categories) entry.categories = r.categories;
    if (r.stored) entry.storageVersionHash = storageHash(r);
    resources.push(entry);
    for (const [sub, s] of Object.entries(r.subresources)) {
      const e: Json = {
        name: `${r.plural}/${sub}`,
        singularName: "",
        namespaced: r.namespaced,
        kind: s.kind,
        verbs: s.verbs,
      };
      if (s.group) e.group = s.group;
      if (s.version) e.version = s.version;
      resources.push(e);
    }
  }
  return {
    kind: "APIResourceList",
    apiVersion: "v1",
    groupVersion: group ? `${group}/${version}` : version,
    resources,
  };
}

/** Every served group/version path for the OpenAPI v3 index. */
export function groupVersionPaths(): string[] {
  const out = ["api/v1"];
  for (const g of apiGroups()) for (const v of g.versions) out.push(`apis/${g.name}/${v}`);
  return out;
}
