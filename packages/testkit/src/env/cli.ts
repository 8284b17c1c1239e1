#!/usr/bin/env node
// kubenode-testenv: the real test environment from a shell.
import { parseArgs } from "node:util";
import { startContainerd } from "./containerd.js";
import { TestkitError } from "./errors.js";
import { ensureHostPackages, HOST_PACKAGES } from "./host-packages.js";
import { buildTestImages } from "./images.js";
import { startRegistry } from "./registry.js";
import { sweepStaleInstances } from "./sweep.js";

const USAGE = `Usage: kubenode-testenv <command>

Commands:
  install   install the Debian packages the real components need (as root)
  images    build the offline test images (busybox, pause) and print where they are
  up        start a private containerd and registry, print their endpoints, run until Ctrl-C
            --registry-auth USER:PASSWORD   require credentials on the registry
            --no-cni                        containerd without a pod network
  sweep     remove what killed or crashed runs left behind: containerd (containers, pod
            namespaces, mounts, bridge), registries, network labs and the processes in them,
            API server and other instance directories
`;

async function main(argv: string[]): Promise<void> {
  const { positionals, values } = parseArgs({
    args: argv,
    allowPositionals: true,
    options: {
      "registry-auth": { type: "string" },
      "no-cni": { type: "boolean", default: false },
      help: { type: "boolean", short: "h", default: false },
    },
  });
  const [command] = positionals;
  if (values.help || command === undefined) {
    process.stdout.write(USAGE);
    return;
  }
  switch (command) {
    case "install":
      await ensureHostPackages(HOST_PACKAGES);
      process.stdout.write(`installed: ${HOST_PACKAGES.join(" ")}\n`);
      return;
    case "images": {
      const images = await buildTestImages();
      for (const img of Object.values(images)) process.stdout.write(`${img.ref}\t${img.layoutDir}\n`);
      return;
    }
    case "sweep": {
      const swept = await sweepStaleInstances();
      process.stdout.write(swept.length ? `removed:\n${swept.join("\n")}\n` : "nothing stale\n");
      return;
    }
    case "up": {
      let auth: { username: string; password: string } | undefined;
      if (values["registry-auth"] !== undefined) {
        const [username = "", ...rest] = values["registry-auth"].split(":");
        auth = { username, password: rest.join(":") };
      }
      const [ctd, reg] = await Promise.all([
        startContainerd({ cni: !values["no-cni"] }),
        startRegistry(auth ? { auth } : {}),
      ]);
      process.stdout.write(
        [
          `CONTAINER_RUNTIME_ENDPOINT=${ctd.endpoint}`,
          `KUBENODE_SANDBOX_IMAGE=${ctd.sandboxImage}`,
          `KUBENODE_BUSYBOX_IMAGE=${ctd.busyboxImage}`,
          `KUBENODE_POD_SUBNET=${ctd.podSubnet ?? ""}`,
          `KUBENODE_REGISTRY=${reg.host}`,
          `KUBENODE_REGISTRY_BUSYBOX=${reg.busyboxRef}`,
          "# running; Ctrl-C stops both and removes everything they made",
          "",
        ].join("\n"),
      );
      await new Promise<void>((resolve) => {
        process.once("SIGINT", resolve);
        process.once("SIGTERM", resolve);
      });
      await Promise.all([ctd.stop(), reg.stop()]);
      return;
    }
    default:
      throw new TestkitError("InvalidArgument", `unknown command ${JSON.stringify(command)}\n${USAGE}`);
  }
}

main(process.argv.slice(2)).catch((err: unknown) => {
  process.stderr.write(`kubenode-testenv: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exit(1);
});
