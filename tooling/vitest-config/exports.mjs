import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

/**
 * The public surface of an entry point, for an export-snapshot test: every name `src/<entry>.ts`
 * exports, types marked `type Name`, sorted. Values are the keys of the imported module; types are
 * read from the entry's `export type { ... }` lists and `type X` items, which is how every
 * kubenode entry is written (by name, no `export *`).
 * @param {URL} entryUrl the entry's source file, e.g. `new URL("./index.ts", import.meta.url)`
 * @param {Record<string, unknown>} module the same entry, imported
 * @returns {string[]}
 */
export function publicSurface(entryUrl, module) {
  const text = readFileSync(fileURLToPath(entryUrl), "utf8")
    .replace(/\/\/.*$/gm, "")
    .replace(/\/\*[\s\S]*?\*\//g, "");
  if (/export\s+\*/.test(text)) throw new Error(`${entryUrl.pathname} uses export *: list exports by name`);
  const types = new Set();
  for (const m of text.matchAll(/export\s+type\s*\{([^}]*)\}/g)) {
    for (const item of m[1].split(",")) {
      const name = item
        .trim()
        .split(/\s+as\s+/)
        .pop()
        ?.trim();
      if (name) types.add(name);
    }
  }
  for (const m of text.matchAll(/export\s*\{([^}]*)\}/g)) {
    for (const item of m[1].split(",")) {
      const t = item.trim();
      if (!t.startsWith("type ")) continue;
      const name = t
        .slice(5)
        .split(/\s+as\s+/)
        .pop()
        ?.trim();
      if (name) types.add(name);
    }
  }
  for (const m of text.matchAll(/export\s+(?:interface|type)\s+([A-Za-z_$][\w$]*)/g)) types.add(m[1]);
  const values = Object.keys(module);
  return [...values, ...[...types].filter((t) => !values.includes(t)).map((t) => `type ${t}`)].sort((a, b) =>
    a.replace(/^type /, "").localeCompare(b.replace(/^type /, "")),
  );
}
