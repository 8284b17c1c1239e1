// @kubenode/node-status/internals: the pieces behind the reporter, for advanced users who compute
// or patch Node status themselves. Less stable than the main entry: a minor version may change them.

// Conditions: the kubelet's Ready condition, transitions and messages, its time format.
export { aggregateMessages, nextCondition, readyCondition, rfc3339 } from "./conditions.js";
// Host readers behind the default providers (Go's GOOS/GOARCH names, /proc/meminfo).
export { goArch, goOs, readMemTotalBytes } from "./host.js";
// Allocatable math, change detection ignoring heartbeat times, the strategic merge patch, images.
export { computeResources, reportedImages, statusChanged, statusPatch } from "./status.js";
