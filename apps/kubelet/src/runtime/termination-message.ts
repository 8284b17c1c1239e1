// Termination messages (kuberuntime_container.go): a per-start file bind-mounted at the container's
// terminationMessagePath, read back once the container exited; with FallbackToLogsOnError the tail
// of the container log stands in for an empty file after a failure.
import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { readCriLog } from "@kubenode/cri-client";
import type { Container, Pod } from "../api.js";
import { podDirectory } from "../pod-dirs.js";
import { RuntimeStepError } from "./types.js";

/** The API defaults of terminationMessagePath and terminationMessagePolicy. */
export const DEFAULT_TERMINATION_MESSAGE_PATH = "/dev/termination-log";
export const DEFAULT_TERMINATION_MESSAGE_POLICY = "File";

/** Upstream reads at most this much of the file (kubecontainer.MaxContainerTerminationMessageLength). */
export const MAX_TERMINATION_MESSAGE_BYTES = 4096;
/** FallbackToLogsOnError: the last 80 lines, at most 2048 bytes of them (MaxContainerTerminationMessageLog*). */
export const MAX_TERMINATION_LOG_LINES = 80;
export const MAX_TERMINATION_LOG_BYTES = 2048;

/** A bind mount of the termination message file. */
export interface TerminationMount {
  containerPath: string;
  hostPath: string;
}

/**
 * Creates the termination message file of one container start: `<rootDir>/pods/<uid>/containers/
 * <name>/<8 hex>` (directory 0750, file 0666), to be mounted at the container's
 * terminationMessagePath. Returns undefined when the path is empty (no mount, as upstream).
 * @throws RuntimeStepError CreateContainerConfigError for a path that is not absolute.
 */
export async function createTerminationMessageFile(
  rootDir: string,
  pod: Pod,
  container: Container,
): Promise<TerminationMount | undefined> {
  const containerPath = container.terminationMessagePath ?? DEFAULT_TERMINATION_MESSAGE_PATH;
  if (containerPath === "") return undefined;
  // Reaches a mount: the API's rules (absolute, bounded) are checked here too, for static pods.
  if (!containerPath.startsWith("/") || containerPath.includes("\0") || containerPath.length > 4096) {
    throw new RuntimeStepError(
      "CreateContainerConfigError",
      `container "${container.name}": terminationMessagePath must be an absolute path, got ${JSON.stringify(containerPath)}`,
    );
  }
  const dir = join(podDirectory(rootDir, pod.metadata.uid), "containers", container.name);
  await mkdir(dir, { recursive: true, mode: 0o750 });
  const hostPath = join(dir, randomBytes(4).toString("hex"));
  await writeFile(hostPath, "", { flag: "wx", mode: 0o666 });
  // The umask narrows the create mode; a container running as any user must be able to write it.
  await chmod(hostPath, 0o666);
  return { containerPath, hostPath };
}

async function readPrefix(path: string, maxBytes: number): Promise<string | undefined> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(path, "r");
    const buf = Buffer.alloc(maxBytes);
    const { bytesRead } = await handle.read(buf, 0, maxBytes, 0);
    return buf.subarray(0, bytesRead).toString("utf8");
  } catch {
    return undefined;
  } finally {
    await handle?.close();
  }
}

/** The last 80 lines of a CRI log, cut to the last 2048 bytes (readLastStringFromContainerLogs). */
export async function lastLogText(logPath: string): Promise<string> {
  let text = "";
  try {
    for await (const line of readCriLog(logPath, { tailLines: MAX_TERMINATION_LOG_LINES })) {
      text += `${line.content}\n`;
    }
  } catch (err) {
    return `Error on reading termination message from logs: ${err instanceof Error ? err.message : String(err)}`;
  }
  const bytes = Buffer.from(text);
  return bytes.length <= MAX_TERMINATION_LOG_BYTES
    ? text
    : bytes.subarray(bytes.length - MAX_TERMINATION_LOG_BYTES).toString("utf8");
}

/** What {@link terminationMessage} needs of an exited container's CRI status. */
export interface ExitedContainerInfo {
  exitCode: number;
  reason: string;
  /** The runtime's message. */
  message: string;
  /** Full path of the CRI log. */
  logPath: string;
  mounts: readonly { containerPath: string; hostPath: string }[];
  /** From the container's annotations. */
  terminationMessagePath: string;
  terminationMessagePolicy: string;
}

/**
 * The terminated state's message: the runtime's message, then `: ` and the termination message
 * (the file's first 4096 bytes; with FallbackToLogsOnError, exit code ≠ 0, an empty or missing file
 * and a reason other than ContainerCannotRun, the tail of the log instead).
 */
export async function terminationMessage(info: ExitedContainerInfo): Promise<string> {
  const fallback =
    info.terminationMessagePolicy === "FallbackToLogsOnError" &&
    info.exitCode !== 0 &&
    info.reason !== "ContainerCannotRun";
  let text = "";
  const mount = info.terminationMessagePath
    ? info.mounts.find((m) => m.containerPath === info.terminationMessagePath)
    : undefined;
  if (mount) text = (await readPrefix(mount.hostPath, MAX_TERMINATION_MESSAGE_BYTES)) ?? "";
  if (text === "" && fallback && info.logPath) text = await lastLogText(info.logPath);
  if (text === "") return info.message;
  return info.message ? `${info.message}: ${text}` : text;
}
