// Extended accounting objects (nfacct) that kube-proxy's iptables mode counts two kinds of
// packets with: INVALID packets dropped in KUBE-FORWARD, and NodePort packets accepted on
// 127.0.0.0/8. Upstream (pkg/proxy/iptables, pkg/proxy/metrics) creates both counters at start,
// adds `-m nfacct --nfacct-name <counter>` to those two rules only for the counters that exist,
// and reads them at scrape time; a kernel or host without nfacct support loses the metrics, not
// the rules. Counters live in the network namespace they were created in, like the rules.
import { NetrulesError } from "./errors.js";
import { type CommandOptions, runCommand } from "./exec.js";

/** Counts INVALID packets that KUBE-FORWARD drops (`kubeproxy_iptables_ct_state_invalid_dropped_packets_total`). */
export const NFACCT_CT_STATE_INVALID_DROPPED = "ct_state_invalid_dropped_pkts";
/** Counts NodePort packets accepted on 127.0.0.0/8 (`kubeproxy_iptables_localhost_nodeports_accepted_packets_total`). */
export const NFACCT_LOCALHOST_NODEPORTS_ACCEPTED = "localhost_nps_accepted_pkts";

/** The counters kube-proxy's iptables mode uses. */
export const KUBE_PROXY_NFACCT_COUNTERS = [
  NFACCT_CT_STATE_INVALID_DROPPED,
  NFACCT_LOCALHOST_NODEPORTS_ACCEPTED,
] as const;

/** One accounting object's totals. */
export interface NfacctCounter {
  packets: number;
  bytes: number;
}

/** What {@link ensureNfacctCounters} found. */
export interface NfacctEnsureResult {
  /** The counters that exist now (created, or there already). */
  available: string[];
  /** Why each other counter could not be created (nfacct missing, no kernel support...). */
  failed: Map<string, string>;
}

// The kernel's NFACCT_NAME_MAX is 32 bytes with the terminating NUL; the name reaches an argv and
// iptables rule text, so it is a plain token that cannot pass for an option.
const NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,30}$/;

function checkName(name: string): void {
  if (!NAME.test(name))
    throw new NetrulesError(
      "InvalidInput",
      `invalid nfacct counter name ${JSON.stringify(name)}: 1-31 characters of [A-Za-z0-9_.-], not starting with - or .`,
    );
}

function toolError(result: { stderr: string; code: number }): string {
  return result.stderr.trim().replace(/^nfacct v[\d.]+: /, "") || `exit code ${result.code}`;
}

/**
 * Creates the named accounting objects where missing (`nfacct add`), and reports which exist.
 * Never throws for a host that cannot have them: a missing `nfacct` tool or kernel module shows
 * up in `failed`, so the caller writes its rules without the counters and logs why.
 */
export async function ensureNfacctCounters(
  names: readonly string[],
  options: CommandOptions = {},
): Promise<NfacctEnsureResult> {
  const available: string[] = [];
  const failed = new Map<string, string>();
  for (const name of names) {
    checkName(name);
    try {
      const added = await runCommand(["nfacct", "add", name], undefined, {
        ...options,
        timeoutMs: options.timeoutMs ?? 10_000,
      });
      if (added.code === 0) {
        available.push(name);
        continue;
      }
      // `add` refuses an existing object (EBUSY): it is there if `get` finds it.
      const got = await runCommand(["nfacct", "get", name], undefined, {
        ...options,
        timeoutMs: options.timeoutMs ?? 10_000,
      });
      if (got.code === 0) available.push(name);
      else failed.set(name, toolError(added));
    } catch (err) {
      failed.set(name, err instanceof Error ? err.message : String(err));
    }
  }
  return { available, failed };
}

// `nfacct list` prints one object per line:
// { pkts = 00000000000000000042, bytes = 00000000000000003360 } = ct_state_invalid_dropped_pkts;
const LINE = /^\{\s*pkts\s*=\s*(\d+),\s*bytes\s*=\s*(\d+)\s*\}\s*=\s*([^;\s]+);$/;

/** Parses `nfacct list` output into counters by name (lines it does not recognise are skipped). */
export function parseNfacctList(text: string): Map<string, NfacctCounter> {
  const out = new Map<string, NfacctCounter>();
  for (const line of text.split("\n")) {
    const m = LINE.exec(line.trim());
    if (m) out.set(m[3]!, { packets: Number(m[1]), bytes: Number(m[2]) });
  }
  return out;
}

/** Reads every accounting object of the namespace (`nfacct list`). */
export async function readNfacctCounters(options: CommandOptions = {}): Promise<Map<string, NfacctCounter>> {
  const result = await runCommand(["nfacct", "list"], undefined, {
    ...options,
    timeoutMs: options.timeoutMs ?? 10_000,
  });
  if (result.code !== 0) throw new NetrulesError("ApplyFailed", `nfacct list failed: ${toolError(result)}`);
  return parseNfacctList(result.stdout);
}
