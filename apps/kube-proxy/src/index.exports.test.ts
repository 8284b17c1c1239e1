// The public surface of @kubenode/kube-proxy: changes only on purpose (update the list and add a changeset).
import { publicSurface } from "@kubenode/vitest-config/exports";
import { expect, it } from "vitest";
import * as entry from "./index.js";

it("exports exactly the reviewed names", () => {
  expect(publicSurface(new URL("./index.ts", import.meta.url), entry)).toEqual(EXPECTED);
});

const EXPECTED: string[] = [
  "CONFIG_API_VERSION",
  "CONFIG_KIND",
  "type Dataplane",
  "type DataplaneSyncResult",
  "defaultConfig",
  "type KubeProxyConfiguration",
  "loadOptions",
  "parseConfigText",
  "type ParsedConfig",
  "ProxyError",
  "type ProxyErrorCode",
  "type ProxyMode",
  "type ProxyOptions",
  "type ProxyServer",
  "type ProxyServerOptions",
  "type ResolvedConfig",
  "startProxyServer",
  "validateConfig",
];
