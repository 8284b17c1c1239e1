import { describe, expect, it } from "vitest";
import { hostileCases } from "./__tests__/hostile.js";
import { featureScenario } from "./__tests__/scenario.js";
import { NetrulesError } from "./errors.js";
import { createIptablesBackend } from "./iptables.js";
import { buildProxyModel, type ProxyModelInput, type ServicePortModel } from "./model.js";
import { createNftablesBackend } from "./nftables.js";

const cases = hostileCases((i) => `172.30.9.${i + 1}`, "10.180.9.9");
const scenario = featureScenario();

/** The feature scenario plus the given cases' objects. */
function withCases(
  pick: (c: (typeof cases)[number]) => ProxyModelInput["services"],
  slices: (c: (typeof cases)[number]) => ProxyModelInput["endpointSlices"],
  only = cases,
): ProxyModelInput {
  return {
    ...scenario,
    services: [...scenario.services, ...only.flatMap(pick)],
    endpointSlices: [...scenario.endpointSlices, ...only.flatMap(slices)],
  };
}
const hostileInput = (only = cases) =>
  withCases(
    (c) => c.services,
    (c) => c.endpointSlices,
    only,
  );
const intendedInput = (only = cases) =>
  withCases(
    (c) => c.intended.services,
    (c) => c.intended.endpointSlices,
    only,
  );

const backends = {
  iptables: () => createIptablesBackend({ clusterCIDR: "10.0.0.0/8", nodeIPs: ["192.168.0.2"] }),
  "nftables upstream": () => createNftablesBackend({ clusterCIDR: "10.0.0.0/8", nodeIPs: ["192.168.0.2"] }),
  "nftables compact": () =>
    createNftablesBackend({ layout: "compact", clusterCIDR: "10.0.0.0/8", nodeIPs: ["192.168.0.2"] }),
};

describe("hostile names (issue 13: rule injection)", () => {
  it.each(cases.map((c) => [c.what, c] as const))(
    "%s: skips only that object, naming field and value",
    (_, c) => {
      const { model, errors } = buildProxyModel(hostileInput([c]));
      const quoted =
        typeof c.error.value === "string" ? JSON.stringify(c.error.value) : String(c.error.value);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toMatchObject({ kind: c.error.kind, field: c.error.field, skipped: "object" });
      expect(errors[0]!.message).toContain(`Invalid value: ${quoted}: `);
      // the message is one line whatever the value holds
      expect(errors[0]!.message).not.toContain("\n");
      const intended = buildProxyModel(intendedInput([c]));
      expect(intended.errors).toEqual([]);
      expect(model.servicePorts.map((sp) => sp.key)).toEqual(intended.model.servicePorts.map((sp) => sp.key));
    },
  );

  for (const [name, make] of Object.entries(backends)) {
    it(`${name}: the payload for all hostile objects at once is exactly the intended one`, () => {
      const hostile = buildProxyModel(hostileInput());
      expect(hostile.errors).toHaveLength(cases.length);
      const payload = make().sync(hostile.model).payload;
      expect(payload).toBe(make().sync(buildProxyModel(intendedInput()).model).payload);
      for (const needle of ["6.6.6.6", "flush ruleset", "evil", "hostile/a", "web"])
        expect(payload).not.toContain(needle);
    });

    it(`${name}: refuses a hand-made model whose names could break out of the rule text`, () => {
      const { model } = buildProxyModel(scenario);
      const sp = model.servicePorts[0]!;
      for (const bad of [
        { ...sp, name: `${sp.namespace}/x" -j ACCEPT` },
        { ...sp, portName: "p\nflush ruleset" },
        { ...sp, namespace: "a b" },
      ] satisfies ServicePortModel[]) {
        const err = (() => {
          try {
            make().sync({ ...model, servicePorts: [bad] });
          } catch (e) {
            return e;
          }
          return undefined;
        })();
        expect(err).toBeInstanceOf(NetrulesError);
        expect((err as NetrulesError).code).toBe("InvalidInput");
        expect((err as NetrulesError).message).toContain(JSON.stringify(bad.name));
      }
    });
  }
});
