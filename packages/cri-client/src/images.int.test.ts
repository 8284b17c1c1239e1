import { type Containerd, type Registry, startContainerd, startRegistry } from "@kubenode/testkit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { canRunContainerd } from "./__tests__/real-runtime.js";
import { type CriClient, createCriClient } from "./client.js";
import { pullImageWithSecrets } from "./image-auth.js";

const real = await canRunContainerd(["docker-registry", "skopeo"]);

describe.runIf(real)("images against containerd and a private registry", () => {
  let ctd: Containerd;
  let open: Registry;
  let locked: Registry;
  let cri: CriClient;
  const auth = { username: "puller", password: "s3cret" };

  beforeAll(async () => {
    [ctd, open, locked] = await Promise.all([
      startContainerd({ cni: false }),
      startRegistry(),
      startRegistry({ auth }),
    ]);
    cri = createCriClient({ endpoint: ctd.endpoint });
    await cri.connect();
  });
  afterAll(async () => {
    cri?.close();
    await Promise.all([ctd?.stop(), open?.stop(), locked?.stop()]);
  });

  it("pulls from a registry without credentials, lists, inspects and removes the image", async () => {
    const { imageRef } = await cri.pullImage({ image: { image: open.busyboxRef } });
    expect(imageRef).toMatch(/^sha256:[0-9a-f]{64}$/);

    const { images } = await cri.listImages({});
    const pulled = images.find((i) => i.id === imageRef);
    expect(pulled?.repoTags).toContain(open.busyboxRef);
    expect(pulled?.size).toBeGreaterThan(0n);

    const status = await cri.imageStatus({ image: { image: open.busyboxRef } });
    expect(status.image?.id).toBe(imageRef);

    await cri.removeImage({ image: { image: open.busyboxRef } });
    const gone = await cri.imageStatus({ image: { image: open.busyboxRef } });
    expect(gone.image).toBeUndefined();
    // Removing again is fine (idempotent), and the test images are untouched.
    await cri.removeImage({ image: { image: open.busyboxRef } });
    expect((await cri.imageStatus({ image: { image: ctd.sandboxImage } })).image).toBeDefined();
  });

  it("pulls with credentials from a dockerconfigjson pull secret", async () => {
    const secret = JSON.stringify({
      auths: { [locked.host]: { auth: Buffer.from(`${auth.username}:${auth.password}`).toString("base64") } },
    });
    const { imageRef } = await pullImageWithSecrets(cri, locked.busyboxRef, [secret]);
    expect(imageRef).toMatch(/^sha256:/);
    const direct = await cri.pullImage({ image: { image: locked.busyboxRef }, auth });
    expect(direct.imageRef).toBe(imageRef);
  });

  it("reports a wrong password or missing credentials as Unauthenticated", async () => {
    const wrong = await cri
      .pullImage({ image: { image: locked.busyboxRef }, auth: { ...auth, password: "nope" } })
      .catch((e: unknown) => e);
    expect(wrong).toMatchObject({ code: "Unauthenticated", rpc: "PullImage" });
    expect((wrong as Error).message).toMatch(/401 Unauthorized/);
    await expect(cri.pullImage({ image: { image: locked.busyboxRef } })).rejects.toMatchObject({
      code: "Unauthenticated",
    });
  });

  it("rejects an empty image reference before containerd can delete an image with it", async () => {
    const before = (await cri.listImages({})).images.length;
    await expect(cri.removeImage({ image: { image: "" } })).rejects.toMatchObject({
      code: "InvalidArgument",
    });
    await expect(cri.removeImage({ image: { image: "  " } })).rejects.toMatchObject({
      code: "InvalidArgument",
    });
    expect((await cri.listImages({})).images.length).toBe(before);
  });

  it("reports the image filesystem usage", async () => {
    const { imageFilesystems } = await cri.imageFsInfo({});
    expect(imageFilesystems.length).toBeGreaterThan(0);
    expect(imageFilesystems[0]?.fsId?.mountpoint).toContain(ctd.dir);
    expect(imageFilesystems[0]?.timestamp).toBeGreaterThan(0n);
    // containerd samples snapshot usage in the background, so the value may still be 0 here.
    expect(typeof imageFilesystems[0]?.usedBytes?.value).toBe("bigint");
  });
});
