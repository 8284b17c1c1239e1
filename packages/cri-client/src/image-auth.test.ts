import { describe, expect, it } from "vitest";
import { CriError } from "./errors.js";
import type { DeepPartial, PullImageRequest } from "./gen/runtime/v1/api.js";
import { credentialsForImage, parseImageRegistry, pullImageWithSecrets } from "./image-auth.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");

describe("parseImageRegistry", () => {
  it.each([
    ["busybox", "docker.io", "library/busybox"],
    ["busybox:1.36", "docker.io", "library/busybox"],
    ["user/app:1", "docker.io", "user/app"],
    ["index.docker.io/user/app", "docker.io", "user/app"],
    ["127.0.0.1:5000/kubenode/busybox:1.0", "127.0.0.1:5000", "kubenode/busybox"],
    ["registry.example.com/a/b@sha256:abc", "registry.example.com", "a/b"],
    ["localhost/app", "localhost", "app"],
  ])("%s -> %s %s", (image, host, path) => {
    expect(parseImageRegistry(image)).toEqual({ host, path });
  });
});

describe("credentialsForImage", () => {
  const secret = JSON.stringify({
    auths: {
      "https://index.docker.io/v1/": { auth: b64("hub:hubpw") },
      "registry.example.com": { username: "all", password: "p1" },
      "registry.example.com/team": { username: "team", password: "p2" },
      "*.corp.example": { username: "glob", password: "p3" },
    },
  });

  it("decodes `auth` and matches Docker Hub's classic key", () => {
    expect(credentialsForImage("nginx", [secret])).toEqual([
      expect.objectContaining({
        username: "hub",
        password: "hubpw",
        serverAddress: "",
      }),
    ]);
  });

  it("orders the most specific match first and ignores other registries", () => {
    expect(credentialsForImage("registry.example.com/team/app:1", [secret]).map((a) => a.username)).toEqual([
      "team",
      "all",
    ]);
    expect(credentialsForImage("registry.example.com/other/app", [secret]).map((a) => a.username)).toEqual([
      "all",
    ]);
    expect(credentialsForImage("quay.io/x/y", [secret])).toEqual([]);
  });

  it("supports host globs", () => {
    expect(credentialsForImage("images.corp.example/app", [secret]).map((a) => a.username)).toEqual(["glob"]);
    expect(credentialsForImage("a.b.corp.example/app", [secret])).toEqual([]);
  });

  it("names the bad secret", () => {
    expect(() => credentialsForImage("nginx", ["{not json"])).toThrow("docker config #0 is not valid JSON");
  });
});

describe("pullImageWithSecrets", () => {
  const secrets = [
    { auths: { "reg.example": { username: "u", password: "wrong" } } },
    { auths: { "reg.example": { username: "u", password: "right" } } },
  ];

  it("tries each matching credential until one works", async () => {
    const tried: string[] = [];
    const cri = {
      pullImage: async (req?: DeepPartial<PullImageRequest>) => {
        tried.push(req?.auth?.password ?? "<none>");
        if (req?.auth?.password !== "right")
          throw new CriError("Unauthenticated", "PullImage: 401 Unauthorized");
        return { imageRef: "sha256:1" };
      },
    };
    await expect(pullImageWithSecrets(cri, "reg.example/app:1", secrets)).resolves.toEqual({
      imageRef: "sha256:1",
    });
    expect(tried).toEqual(["wrong", "right"]);
  });

  it("pulls anonymously when no credential matches, and reports the last failure", async () => {
    const tried: unknown[] = [];
    const cri = {
      pullImage: async (req?: DeepPartial<PullImageRequest>) => {
        tried.push(req?.auth);
        throw new CriError("Unauthenticated", "PullImage: 401 Unauthorized");
      },
    };
    await expect(pullImageWithSecrets(cri, "other.example/app", secrets)).rejects.toMatchObject({
      code: "Unauthenticated",
    });
    expect(tried).toEqual([undefined]);
  });
});
