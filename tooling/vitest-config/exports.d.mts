/** The sorted public surface of an entry: value names, and type names as `type Name`. */
export function publicSurface(entryUrl: URL, module: Record<string, unknown>): string[];
