import { readFile, rm } from "node:fs/promises";
import { connect } from "node:net";
import { join } from "node:path";

/** True when something accepts TCP connections on 127.0.0.1:`port` (within a second). */
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ host: "127.0.0.1", port, timeout: 1_000 });
    const done = (ok: boolean) => {
      socket.destroy();
      resolve(ok);
    };
    socket.once("connect", () => done(true));
    socket.once("error", () => done(false));
    socket.once("timeout", () => done(false));
  });
}

/**
 * Removes `<stateDir>/kubeconfig` when it points at an API server that no longer answers (a demo
 * killed before its teardown); a kubeconfig of a demo still running (`--keep`) is left alone.
 * Resolves true when it removed one.
 */
export async function removeStaleKubeconfig(stateDir: string): Promise<boolean> {
  const file = join(stateDir, "kubeconfig");
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch {
    return false;
  }
  const port = /server:\s*"?https?:\/\/127\.0\.0\.1:(\d+)/.exec(text)?.[1];
  if (port !== undefined && (await answers(Number(port)))) return false;
  await rm(file, { force: true });
  return true;
}
