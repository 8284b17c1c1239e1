// The public surface of @kubenode/netrules/internals: changes only on purpose (update the list and add a changeset).
import { publicSurface } from "@kubenode/vitest-config/exports";
import { expect, it } from "vitest";
import * as entry from "./internals.js";

it("exports exactly the reviewed names", () => {
  expect(publicSurface(new URL("./internals.ts", import.meta.url), entry)).toEqual(EXPECTED);
});

const EXPECTED: string[] = [
  "type CommandResult",
  "conntrackDeleteArgs",
  "endpointChainName",
  "IPTABLES_CANARY_CHAIN",
  "IPTABLES_JUMP_RULES",
  "IPTABLES_KUBELET_JUMP_RULES",
  "type IptablesJumpRule",
  "isServiceChainName",
  "NFT_CANARY_CHAIN",
  "nftEndpointChainBase",
  "nftServiceChainBase",
  "parseNfacctList",
  "runCommand",
  "servicePortChainSuffix",
];
