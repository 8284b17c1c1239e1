// Regenerates src/gen/ from proto/ with protoc + ts-proto.
// `npm run generate` writes into src/gen; `generate(outDir)` is also used by the staleness test.
import { spawnSync } from "node:child_process";
import { mkdirSync, readdirSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";

const packageDir = resolve(dirname(fileURLToPath(import.meta.url)), "..");
export const protoDir = join(packageDir, "proto");
export const protoFiles = ["runtime/v1/api.proto"];

/** ts-proto options; changing them changes the public types. */
export const tsProtoOptions = [
  "outputServices=grpc-js",
  "outputServices=generic-definitions",
  "esModuleInterop=true",
  "importSuffix=.js",
  "env=node",
  // CRI timestamps are nanoseconds since the epoch: beyond 2^53, so 64-bit integers are bigint.
  "forceLong=bigint",
  "useOptionals=messages",
  "outputJsonMethods=false",
  "useExactTypes=false",
  "annotateFilesWithVersion=false",
];

/** Runs protoc with the ts-proto plugin, writing the generated TypeScript into `outDir`. */
export function generate(outDir: string): void {
  const require = createRequire(import.meta.url);
  const plugin = require.resolve("ts-proto/protoc-gen-ts_proto");
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  const result = spawnSync(
    "protoc",
    [
      `--plugin=protoc-gen-ts_proto=${plugin}`,
      `--ts_proto_out=${outDir}`,
      `--ts_proto_opt=${tsProtoOptions.join(",")}`,
      `-I${protoDir}`,
      ...protoFiles,
    ],
    { cwd: protoDir, encoding: "utf8" },
  );
  if (result.error) {
    throw new Error(
      `cannot run protoc: ${result.error.message} (install Debian's protobuf-compiler: apt-get install protobuf-compiler)`,
    );
  }
  if (result.status !== 0) throw new Error(`protoc failed (exit ${result.status}): ${result.stderr}`);
}

/** Every file under `dir`, relative, sorted. */
export function listFiles(dir: string, prefix = ""): string[] {
  return readdirSync(join(dir, prefix), { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? listFiles(dir, join(prefix, e.name)) : [join(prefix, e.name)]))
    .sort();
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  generate(join(packageDir, "src", "gen"));
  process.stdout.write(`generated ${listFiles(join(packageDir, "src", "gen")).join(", ")}\n`);
}
