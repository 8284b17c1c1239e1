import { authenticateBootstrapToken, authorize, type TokenAuthority } from "./auth.js";
import { type ApiCore, rfc3339 } from "./core.js";
import { rbacAllows } from "./rbac.js";
import { findResource, type ResourceDef } from "./resources.js";
import { badRequest, conflict, fieldRequired, invalid, notFound, StatusFailure } from "./status.js";
import type { Json, KubeObject, UserInfo } from "./types.js";

/** kube-apiserver's implicit API audiences (--api-audiences defaults to the service account issuer). */
export const API_AUDIENCES = ["https://kubernetes.default.svc.cluster.local"];

interface Ctx {
  core: ApiCore;
  tokens: TokenAuthority;
  dryRun?: boolean;
}

function ensureKind(body: Json, kind: string, apiVersions: string[]): void {
  if (body === null || typeof body !== "object" || Array.isArray(body))
    throw badRequest(`the object provided is unrecognized (must be of type ${kind})`);
  if (body.kind !== undefined && body.kind !== kind)
    throw badRequest(
      `${body.kind} in version "${body.apiVersion ?? ""}" cannot be handled as a ${kind}: no kind "${body.kind}" is registered for version "${body.apiVersion ?? ""}" in scheme`,
    );
  if (body.apiVersion !== undefined && !apiVersions.includes(body.apiVersion))
    throw badRequest(
      `${kind} in version "${body.apiVersion}" cannot be handled as a ${kind}: no kind "${kind}" is registered for version "${body.apiVersion}" in scheme`,
    );
}

const success = (code: number): string =>
  JSON.stringify({ kind: "Status", apiVersion: "v1", metadata: {}, status: "Success", code });

/** metav1.LabelSelector matching (matchLabels + matchExpressions); an absent selector matches nothing. */
function selectorMatches(sel: Json, labels: Record<string, string>): boolean {
  if (!sel || typeof sel !== "object") return false;
  if (!Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v)) return false;
  for (const e of sel.matchExpressions ?? []) {
    const has = Object.hasOwn(labels, e.key);
    const v = labels[e.key];
    if (e.operator === "In" && !(has && (e.values ?? []).includes(v))) return false;
    if (e.operator === "NotIn" && has && (e.values ?? []).includes(v)) return false;
    if (e.operator === "Exists" && !has) return false;
    if (e.operator === "DoesNotExist" && has) return false;
  }
  return true;
}

/** Assigns a pod to a node like the binding REST storage (spec.nodeName + PodScheduled=True). */
export function bindPod(
  core: ApiCore,
  def: ResourceDef,
  pod: KubeObject,
  node: string,
  annotations?: Record<string, string>,
): KubeObject {
  const conds = (pod.status?.conditions ?? []).filter((c: Json) => c.type !== "PodScheduled");
  conds.push({ type: "PodScheduled", status: "True", lastProbeTime: null, lastTransitionTime: core.now() });
  const metadata = annotations
    ? { ...pod.metadata, annotations: { ...(pod.metadata.annotations ?? {}), ...annotations } }
    : { ...pod.metadata };
  return core.forceWrite(def, pod, {
    ...pod,
    metadata,
    spec: { ...pod.spec, nodeName: node },
    status: { ...pod.status, conditions: conds },
  });
}

/** pods/binding, pods/eviction and serviceaccounts/token. */
export function handleSubresource(
  route: { def: ResourceDef; namespace: string; name: string; subresource: string },
  body: Json,
  user: UserInfo,
  ctx: Ctx,
): { code: number; json: string } {
  const { def, namespace, subresource } = route;
  const { core } = ctx;
  if (subresource === "binding") {
    ensureKind(body, "Binding", ["v1"]);
    const podName = route.name || body?.metadata?.name;
    if (!podName) throw invalid("Binding", "", "", [fieldRequired("metadata.name")]);
    if (route.name && body?.metadata?.name && body.metadata.name !== route.name)
      throw badRequest(
        `the name of the object (${body.metadata.name}) does not match the name on the URL (${route.name})`,
      );
    const target = body?.target?.name;
    if (!target || (body.target.kind && body.target.kind !== "Node"))
      throw invalid("Binding", "", podName, [fieldRequired("target.name", "a binding needs a target node")]);
    const pod = core.get(def, namespace, podName);
    if (pod.metadata.deletionTimestamp)
      throw conflict("pods", "", podName, `pod ${podName} is being deleted, cannot be assigned to a host`);
    if (pod.spec?.nodeName)
      throw conflict(
        "pods",
        "",
        podName,
        `pod ${podName} is already assigned to node "${pod.spec.nodeName}"`,
      );
    if (body?.metadata?.uid && body.metadata.uid !== pod.metadata.uid)
      throw conflict(
        "pods",
        "",
        podName,
        `Precondition failed: UID in precondition: ${body.metadata.uid}, UID in object meta: ${pod.metadata.uid}`,
      );
    if (!ctx.dryRun) {
      bindPod(core, def, pod, target, body?.metadata?.annotations);
    }
    return { code: 201, json: success(201) };
  }
  if (subresource === "eviction") {
    ensureKind(body, "Eviction", ["policy/v1", "policy/v1beta1"]);
    if (body?.metadata?.name && body.metadata.name !== route.name)
      throw badRequest(`name in URL does not match name in Eviction object`);
    const pod = core.get(def, namespace, route.name);
    const opts = body?.deleteOptions ?? {};
    // PodDisruptionBudgets are checked against pods matching their selector (policy/v1 semantics)
    const pdbDef = findResource("policy", "v1", "poddisruptionbudgets")!;
    const terminal = pod.status?.phase === "Succeeded" || pod.status?.phase === "Failed";
    const isReady = (p: KubeObject): boolean =>
      (p.status?.conditions ?? []).some((c: Json) => c.type === "Ready" && c.status === "True");
    if (!terminal && !pod.metadata.deletionTimestamp && isReady(pod)) {
      for (const pdb of core.storage.list(pdbDef.key, namespace)) {
        if (!selectorMatches(pdb.spec?.selector, pod.metadata.labels ?? {})) continue;
        // computed on the spot, as the disruption controller would (no separate controller here)
        const matching = core.storage
          .list(def.key, namespace)
          .filter(
            (p) =>
              selectorMatches(pdb.spec?.selector, p.metadata.labels ?? {}) && !p.metadata.deletionTimestamp,
          );
        const expected = matching.length;
        const healthy = matching.filter(isReady).length;
        const scaled = (v: Json): number =>
          typeof v === "string" && v.endsWith("%")
            ? Math.ceil((Number(v.slice(0, -1)) / 100) * expected)
            : Number(v ?? 0);
        const desiredHealthy =
          pdb.spec?.maxUnavailable !== undefined
            ? expected - scaled(pdb.spec.maxUnavailable)
            : scaled(pdb.spec?.minAvailable ?? 0);
        if (healthy - desiredHealthy <= 0)
          throw new StatusFailure(
            429,
            "TooManyRequests",
            "Cannot evict pod as it would violate the pod's disruption budget.",
            {
              causes: [
                {
                  reason: "DisruptionBudget",
                  message: `The disruption budget ${pdb.metadata.name} needs ${desiredHealthy} healthy pods and has ${healthy} currently`,
                },
              ],
            },
          );
      }
    }
    const del: Json = {};
    if (opts.gracePeriodSeconds !== undefined) del.gracePeriodSeconds = opts.gracePeriodSeconds;
    if (opts.preconditions) del.preconditions = opts.preconditions;
    if (opts.propagationPolicy) del.propagationPolicy = opts.propagationPolicy;
    if (ctx.dryRun) del.dryRun = true;
    core.delete(def, namespace, route.name, del);
    return { code: 201, json: success(201) };
  }
  if (subresource === "token") {
    ensureKind(body, "TokenRequest", ["authentication.k8s.io/v1"]);
    const sa = core.get(def, namespace, route.name);
    const spec = body?.spec ?? {};
    const expirationSeconds = spec.expirationSeconds ?? 3600;
    if (!Number.isInteger(expirationSeconds) || expirationSeconds < 600)
      throw invalid("TokenRequest", "authentication.k8s.io", route.name, [
        {
          type: "FieldValueInvalid",
          field: "spec.expirationSeconds",
          detail: "may not specify a duration less than 10 minutes",
          text:
            "spec.expirationSeconds: Invalid value: " +
            expirationSeconds +
            ": may not specify a duration less than 10 minutes",
        },
      ]);
    const audiences: string[] = spec.audiences?.length ? spec.audiences : [...API_AUDIENCES];
    let pod: { name: string; uid: string } | undefined;
    let node: { name: string; uid: string } | undefined;
    const ref = spec.boundObjectRef;
    if (ref?.kind === "Pod") {
      const p = core.find(findResource("", "v1", "pods")!, namespace, ref.name);
      if (!p) throw notFound("pods", "", ref.name);
      if (ref.uid && ref.uid !== p.metadata.uid)
        throw conflict("pods", "", ref.name, "the UID in the bound object reference does not match");
      pod = { name: p.metadata.name, uid: p.metadata.uid };
      if (p.spec?.nodeName) {
        const n = core.find(findResource("", "v1", "nodes")!, "", p.spec.nodeName);
        if (n) node = { name: n.metadata.name, uid: n.metadata.uid };
      }
    }
    const nowMs = core.clock.now();
    const issued = ctx.tokens.issueServiceAccountToken({
      namespace,
      serviceAccount: { name: sa.metadata.name, uid: sa.metadata.uid },
      audiences,
      expirationSeconds,
      nowMs,
      ...(pod ? { pod } : {}),
      ...(node ? { node } : {}),
    });
    void user;
    const out = {
      kind: "TokenRequest",
      apiVersion: "authentication.k8s.io/v1",
      metadata: { name: sa.metadata.name, namespace, creationTimestamp: rfc3339(nowMs) },
      spec: { audiences, expirationSeconds, boundObjectRef: ref ?? null },
      status: { token: issued.token, expirationTimestamp: rfc3339(issued.expirationTimestampMs) },
    };
    return { code: 201, json: JSON.stringify(out) };
  }
  throw new StatusFailure(404, "NotFound", "the server could not find the requested resource", {});
}

/**
 * A TokenReview of a bootstrap token: the bootstrap authenticator is audience-agnostic, so
 * kube-apiserver wraps it (authenticator.WrapAudienceAgnosticToken) to answer only for the API
 * server's own audiences: none requested means those, otherwise the intersection must not be empty.
 */
function reviewBootstrapToken(
  token: string,
  core: ApiCore,
  requested: string[] | undefined,
): { user: UserInfo; audiences: string[] } | undefined {
  const audiences = requested?.length
    ? requested.filter((a) => API_AUDIENCES.includes(a))
    : [...API_AUDIENCES];
  if (!audiences.length) return undefined;
  const user = authenticateBootstrapToken(token, core, core.clock.now());
  return user ? { user, audiences } : undefined;
}

/** TokenReview, SubjectAccessReview, SelfSubjectAccessReview and SelfSubjectReview (create-only). */
export function handleVirtualCreate(
  def: ResourceDef,
  body: Json,
  user: UserInfo,
  ctx: Ctx,
): { code: number; json: string } {
  ensureKind(body, def.kind, [def.apiVersion]);
  const { core } = ctx;
  const base = {
    kind: def.kind,
    apiVersion: def.apiVersion,
    metadata: { creationTimestamp: null, ...(body.metadata ?? {}) },
  };
  switch (def.kind) {
    case "TokenReview": {
      const token = body.spec?.token;
      if (!token) throw invalid("TokenReview", def.group, "", [fieldRequired("spec.token")]);
      const r =
        ctx.tokens.authenticate(token, core.clock.now(), body.spec?.audiences) ??
        reviewBootstrapToken(token, core, body.spec?.audiences);
      const status = r
        ? {
            authenticated: true,
            user: {
              username: r.user.username,
              ...(r.user.uid ? { uid: r.user.uid } : {}),
              groups: r.user.groups,
              ...(r.user.extra && Object.keys(r.user.extra).length ? { extra: r.user.extra } : {}),
            },
            audiences: r.audiences,
          }
        : { user: {}, error: "[invalid bearer token, token lookup failed]" };
      return { code: 201, json: JSON.stringify({ ...base, spec: body.spec, status }) };
    }
    case "SubjectAccessReview":
    case "SelfSubjectAccessReview": {
      const spec = body.spec ?? {};
      const subject: UserInfo =
        def.kind === "SelfSubjectAccessReview"
          ? user
          : { username: spec.user ?? "", groups: spec.groups ?? [], ...(spec.uid ? { uid: spec.uid } : {}) };
      if (def.kind === "SubjectAccessReview" && !spec.user && !(spec.groups ?? []).length)
        throw invalid("SubjectAccessReview", def.group, "", [
          fieldRequired("spec.user", "at least one of user or group must be specified"),
        ]);
      const ra = spec.resourceAttributes;
      let allowed = false;
      let reason = "";
      if (ra) {
        const denied = authorize(
          {
            user: subject,
            verb: ra.verb ?? "",
            group: ra.group ?? "",
            resource: ra.resource ?? "",
            subresource: ra.subresource ?? "",
            namespace: ra.namespace ?? "",
            name: ra.name ?? "",
          },
          core,
        );
        allowed = denied === undefined;
        reason = denied ?? "";
      } else if (spec.nonResourceAttributes) {
        allowed =
          subject.groups.includes("system:masters") || subject.groups.includes("system:authenticated");
      }
      const attrs = {
        user: subject,
        verb: ra?.verb ?? spec.nonResourceAttributes?.verb ?? "",
        group: ra?.group ?? "",
        resource: ra?.resource ?? "",
        subresource: ra?.subresource ?? "",
        namespace: ra?.namespace ?? "",
        name: ra?.name ?? "",
      };
      const rbacReason = ra
        ? rbacAllows(attrs, core)
        : spec.nonResourceAttributes
          ? rbacAllows(attrs, core, spec.nonResourceAttributes.path ?? "")
          : undefined;
      if (rbacReason) allowed = true;
      const status: Json = { allowed };
      if (!allowed && reason) status.reason = reason;
      if (allowed)
        status.reason = subject.groups.includes("system:masters")
          ? 'RBAC: allowed by ClusterRoleBinding "cluster-admin" of ClusterRole "cluster-admin" to Group "system:masters"'
          : (rbacReason ?? "allowed by the kubenode simulator's authorizer");
      return { code: 201, json: JSON.stringify({ ...base, spec, status }) };
    }
    case "SelfSubjectRulesReview": {
      const namespace = body.spec?.namespace;
      if (!namespace)
        throw invalid("SelfSubjectRulesReview", def.group, "", [fieldRequired("spec.namespace", "")]);
      return { code: 201, json: JSON.stringify({ ...base, spec: body.spec, status: rulesFor(user) }) };
    }
    case "SelfSubjectReview":
      return {
        code: 201,
        json: JSON.stringify({
          ...base,
          status: {
            userInfo: {
              username: user.username,
              groups: user.groups,
              ...(user.uid ? { uid: user.uid } : {}),
            },
          },
        }),
      };
  }
  throw new StatusFailure(404, "NotFound", "the server could not find the requested resource", {});
}

/** What system:basic-user, system:discovery and system:public-info-viewer grant every authenticated user. */
const BASIC_RULES = {
  resourceRules: [
    {
      verbs: ["create"],
      apiGroups: ["authorization.k8s.io"],
      resources: ["selfsubjectaccessreviews", "selfsubjectrulesreviews"],
    },
    { verbs: ["create"], apiGroups: ["authentication.k8s.io"], resources: ["selfsubjectreviews"] },
  ],
  nonResourceRules: [
    {
      verbs: ["get"],
      nonResourceURLs: [
        "/api",
        "/api/*",
        "/apis",
        "/apis/*",
        "/healthz",
        "/livez",
        "/openapi",
        "/openapi/*",
        "/readyz",
        "/version",
        "/version/",
      ],
    },
  ],
};

/**
 * SelfSubjectRulesReview (`kubectl auth can-i --list`): the rules the simulator's authorizer
 * applies to a user. Like upstream, the node authorizer cannot list its rules: node identities
 * get the basic rules with `incomplete: true` and its evaluation error.
 */
function rulesFor(user: UserInfo): Json {
  const rules: Json = {
    resourceRules: [...BASIC_RULES.resourceRules],
    nonResourceRules: [...BASIC_RULES.nonResourceRules],
    incomplete: false,
  };
  if (user.groups.includes("system:masters")) {
    rules.resourceRules.unshift({ verbs: ["*"], apiGroups: ["*"], resources: ["*"] });
    rules.nonResourceRules.unshift({ verbs: ["*"], nonResourceURLs: ["*"] });
  } else if (user.groups.includes("system:nodes") && user.username.startsWith("system:node:")) {
    rules.incomplete = true;
    rules.evaluationError = "node authorizer does not support user rule resolution";
  } else if (user.username === "system:kube-proxy") {
    rules.resourceRules.unshift(
      { verbs: ["list", "watch"], apiGroups: [""], resources: ["endpoints", "services"] },
      { verbs: ["get", "list", "watch"], apiGroups: [""], resources: ["nodes"] },
      { verbs: ["create", "patch", "update"], apiGroups: ["", "events.k8s.io"], resources: ["events"] },
      { verbs: ["list", "watch"], apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"] },
    );
  } else if (user.groups.includes("system:serviceaccounts")) {
    rules.resourceRules.unshift({ verbs: ["get", "list", "watch"], apiGroups: ["*"], resources: ["*"] });
  }
  return rules;
}
