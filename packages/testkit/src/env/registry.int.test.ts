import { existsSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Containerd, startContainerd } from "./containerd.js";
import { canUseRealComponents } from "./host-packages.js";
import { type Registry, startRegistry } from "./registry.js";

const real = await canUseRealComponents([
  "docker-registry",
  "skopeo",
  "containerd",
  "runc",
  "umoci",
  "busybox-static",
]);

describe.runIf(real)("startRegistry", () => {
  let open: Registry;
  let secured: Registry;
  let ctd: Containerd;
  beforeAll(async () => {
    [open, secured, ctd] = await Promise.all([
      startRegistry(),
      startRegistry({ auth: { username: "puller", password: "s3cret" } }),
      startContainerd({ cni: false }),
    ]);
  });
  afterAll(async () => {
    await Promise.all([open?.stop(), secured?.stop(), ctd?.stop()]);
  });

  it("serves on a loopback port", () => {
    expect(open.host).toMatch(/^127\.0\.0\.1:\d+$/);
    expect(open.busyboxRef).toBe(`${open.host}/kubenode/busybox:1.0`);
  });

  it("lets containerd pull the pushed image without credentials", async () => {
    await ctd.ctr(["images", "pull", "--plain-http", open.busyboxRef]);
    const out = await ctd.ctr(["run", "--rm", open.busyboxRef, "pulled", "echo", "pulled ok"]);
    expect(out.trim()).toBe("pulled ok");
  });

  it("requires the credentials when auth is on", async () => {
    const anonymous = await fetch(`${secured.url}/v2/kubenode/busybox/tags/list`);
    expect(anonymous.status).toBe(401);
    await expect(ctd.ctr(["images", "pull", "--plain-http", secured.busyboxRef])).rejects.toThrow(
      /401|unauthorized/i,
    );
    await expect(
      ctd.ctr(["images", "pull", "--plain-http", "--user", "puller:wrong", secured.busyboxRef]),
    ).rejects.toThrow(/401|unauthorized/i);
    await ctd.ctr(["images", "pull", "--plain-http", "--user", "puller:s3cret", secured.busyboxRef]);
    expect(await ctd.ctr(["images", "ls", "-q"])).toContain(secured.busyboxRef);
  });

  it("rejects unusable credentials before starting", async () => {
    await expect(startRegistry({ auth: { username: "a:b", password: "x" } })).rejects.toThrow(
      /username without ':'/,
    );
  });

  it("removes its storage on stop", async () => {
    const r = await startRegistry({ pushTestImages: false });
    await r.stop();
    const res = await fetch(`${r.url}/v2/`).catch(() => undefined);
    expect(res).toBeUndefined();
    expect(existsSync(r.dir)).toBe(false);
  });
});
