import { describe, expect, it } from "vitest";
import { featureScenario } from "./__tests__/scenario.js";
import { createIptablesBackend } from "./iptables.js";
import { createIptablesRuleCounter } from "./iptables-rule-counter.js";
import { buildProxyModel } from "./model.js";

/** `-A` lines per table of one payload. */
function rulesIn(payload: string): Record<string, number> {
  const out: Record<string, number> = {};
  let table = "";
  for (const line of payload.split("\n")) {
    if (line.startsWith("*")) table = line.slice(1);
    else if (line.startsWith("-A ")) out[table] = (out[table] ?? 0) + 1;
  }
  return out;
}

describe("iptables rule counter", () => {
  it("keeps the installed rule count exact across partial payloads", () => {
    const input = featureScenario();
    const backend = createIptablesBackend({ clusterCIDR: "10.0.0.0/8", nodeIPs: ["192.168.0.2"] });
    const counter = createIptablesRuleCounter();
    const first = buildProxyModel(input).model;
    counter.applied(backend.sync(first));
    expect(counter.totals()).toEqual(rulesIn(backend.sync(first, { full: true }).payload));
    // Drop a service and an endpoint: the partial payload rewrites some chains and deletes others.
    const smaller = {
      ...input,
      services: input.services.slice(1),
      endpointSlices: input.endpointSlices.map((s) =>
        s.metadata?.name?.startsWith("svc5") ? { ...s, endpoints: s.endpoints?.slice(1) } : s,
      ),
    };
    const next = buildProxyModel(smaller, { previous: first }).model;
    const partial = backend.sync(next);
    expect(partial.full).toBe(false);
    expect(partial.deletedChains.length).toBeGreaterThan(0);
    counter.applied(partial);
    const expected = rulesIn(
      createIptablesBackend({ clusterCIDR: "10.0.0.0/8", nodeIPs: ["192.168.0.2"] }).sync(next).payload,
    );
    expect(counter.totals()).toEqual(expected);
  });
});
