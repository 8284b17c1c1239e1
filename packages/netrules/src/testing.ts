// @kubenode/netrules/testing: an in-memory iptables ruleset fed with restore payloads, a check for
// jumps to chains that do not exist, and a packet tracer that walks the rules. For tests of rule
// generation (ours and yours); nothing here touches the kernel.
export type { IptablesRuleset, TraceOutcome, TracePacket } from "./iptables-tracer.js";
export {
  applyRestorePayload,
  createIptablesRuleset,
  findDanglingJumps,
  traceIptables,
} from "./iptables-tracer.js";
