import type { NodeCondition } from "./types.js";

/** metav1.Time: RFC 3339 with second precision. */
export function rfc3339(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().replace(".000Z", "Z");
}

/** An event to record for the Node, e.g. a condition transition. */
export interface NodeEvent {
  type: "Normal" | "Warning";
  reason: string;
  message: string;
}

type Status = NodeCondition["status"];

/**
 * The next state of one condition: lastHeartbeatTime always moves to now, lastTransitionTime only
 * when the status changes (a condition first seen counts as a change from Unknown).
 */
export function nextCondition(
  previous: NodeCondition | undefined,
  type: string,
  status: Status,
  reason: string,
  message: string,
  nowMs: number,
): NodeCondition {
  const now = rfc3339(nowMs);
  const transitioned = !previous || previous.status !== status;
  return {
    type,
    status,
    lastHeartbeatTime: now,
    lastTransitionTime: transitioned ? now : (previous.lastTransitionTime ?? now),
    reason,
    message,
  };
}

interface PressureSpec {
  type: "MemoryPressure" | "DiskPressure" | "PIDPressure";
  trueReason: string;
  trueMessage: string;
  trueEvent: string;
  falseReason: string;
  falseMessage: string;
  falseEvent: string;
}

// Reasons, messages and event reasons of the kubelet's pressure condition setters.
export const PRESSURE_CONDITIONS: Record<"memory" | "disk" | "pid", PressureSpec> = {
  memory: {
    type: "MemoryPressure",
    trueReason: "KubeletHasInsufficientMemory",
    trueMessage: "kubelet has insufficient memory available",
    trueEvent: "NodeHasInsufficientMemory",
    falseReason: "KubeletHasSufficientMemory",
    falseMessage: "kubelet has sufficient memory available",
    falseEvent: "NodeHasSufficientMemory",
  },
  disk: {
    type: "DiskPressure",
    trueReason: "KubeletHasDiskPressure",
    trueMessage: "kubelet has disk pressure",
    trueEvent: "NodeHasDiskPressure",
    falseReason: "KubeletHasNoDiskPressure",
    falseMessage: "kubelet has no disk pressure",
    falseEvent: "NodeHasNoDiskPressure",
  },
  pid: {
    type: "PIDPressure",
    trueReason: "KubeletHasInsufficientPID",
    trueMessage: "kubelet has insufficient PID available",
    trueEvent: "NodeHasInsufficientPID",
    falseReason: "KubeletHasSufficientPID",
    falseMessage: "kubelet has sufficient PID available",
    falseEvent: "NodeHasSufficientPID",
  },
};

/** One pressure condition plus the transition event, if any. */
export function pressureCondition(
  kind: keyof typeof PRESSURE_CONDITIONS,
  previous: NodeCondition | undefined,
  underPressure: boolean,
  nowMs: number,
  nodeName: string,
): { condition: NodeCondition; event?: NodeEvent } {
  const spec = PRESSURE_CONDITIONS[kind];
  const status: Status = underPressure ? "True" : "False";
  const condition = nextCondition(
    previous,
    spec.type,
    status,
    underPressure ? spec.trueReason : spec.falseReason,
    underPressure ? spec.trueMessage : spec.falseMessage,
    nowMs,
  );
  if (previous?.status === status) return { condition };
  const reason = underPressure ? spec.trueEvent : spec.falseEvent;
  return {
    condition,
    event: { type: "Normal", reason, message: `Node ${nodeName} status is now: ${reason}` },
  };
}

/** Joins errors like apimachinery's NewAggregate: one as is, several as "[a, b]". */
export function aggregateMessages(messages: string[]): string {
  return messages.length === 1 ? messages[0]! : `[${messages.join(", ")}]`;
}

/** The Ready condition: True "KubeletReady" unless any error, then False "KubeletNotReady" with them all. */
export function readyCondition(
  previous: NodeCondition | undefined,
  errors: string[],
  nowMs: number,
  nodeName: string,
): { condition: NodeCondition; event?: NodeEvent } {
  const ready = errors.length === 0;
  const condition = ready
    ? nextCondition(previous, "Ready", "True", "KubeletReady", "kubelet is posting ready status", nowMs)
    : nextCondition(previous, "Ready", "False", "KubeletNotReady", aggregateMessages(errors), nowMs);
  if (previous?.status === condition.status) return { condition };
  const reason = ready ? "NodeReady" : "NodeNotReady";
  return {
    condition,
    event: { type: "Normal", reason, message: `Node ${nodeName} status is now: ${reason}` },
  };
}
