/**
 * Path of `<packageDir>/<file>` (default `dist/main.js`), the build `npm test` made first; throws
 * naming the fix when it is missing or older than the package's non-test sources.
 */
export function builtBin(packageDir: string, file?: string): string;
