import type { IncomingHttpHeaders } from "node:http";
import { authorize, forbiddenMessage, type RequestAttributes } from "./auth.js";
import type { ApiCore } from "./core.js";
import { forbidden } from "./status.js";
import type { UserInfo } from "./types.js";

/**
 * User impersonation (k8s.io/apiserver endpoints/filters/impersonation.go): the
 * `Impersonate-User`, `Impersonate-Group`, `Impersonate-Uid` and `Impersonate-Extra-<key>`
 * headers replace the requesting user once each requested value passed an authorization check
 * with verb `impersonate` (users, serviceaccounts, groups, uids, userextras/<key>).
 */

interface Requested {
  kind: "User" | "ServiceAccount" | "Group" | "UserExtra" | "UID";
  namespace?: string;
  name: string;
  extraKey?: string;
}

/** Thrown for impersonation headers that cannot be honoured: upstream answers a plain-text 500. */
export class ImpersonationError extends Error {}

const AUTH_GROUP = "authentication.k8s.io";

/** How Go's %v prints the v1.ObjectReference list upstream puts in its error. */
function goRefs(reqs: Requested[]): string {
  return `[${reqs
    .map((r) => {
      const apiVersion = r.kind === "UserExtra" || r.kind === "UID" ? `${AUTH_GROUP}/v1` : "";
      return `{${r.kind} ${r.namespace ?? ""} ${r.name}  ${apiVersion}  ${r.extraKey ?? ""}}`;
    })
    .join(" ")}]`;
}

/**
 * Applies impersonation headers to an authenticated user. Returns the user unchanged without
 * such headers, the impersonated user when every check passes; throws a 403 StatusFailure when
 * the requestor may not impersonate a value, and an {@link ImpersonationError} for groups, uid
 * or extras without a user.
 */
export function impersonate(
  headers: IncomingHttpHeaders,
  distinct: Record<string, string[] | undefined>,
  requestor: UserInfo,
  core: ApiCore,
): UserInfo {
  const reqs: Requested[] = [];
  const userHeader = headers["impersonate-user"];
  const username = Array.isArray(userHeader) ? userHeader[0] : userHeader;
  if (username) {
    const sa = username.match(/^system:serviceaccount:([^:]+):([^:]+)$/);
    if (sa) reqs.push({ kind: "ServiceAccount", namespace: sa[1]!, name: sa[2]! });
    else reqs.push({ kind: "User", name: username });
  }
  const groups = distinct["impersonate-group"] ?? [];
  for (const g of groups) reqs.push({ kind: "Group", name: g });
  const extra: Record<string, string[]> = {};
  for (const [h, values] of Object.entries(distinct)) {
    if (!h.startsWith("impersonate-extra-") || !values) continue;
    let key: string;
    try {
      key = decodeURIComponent(h.slice("impersonate-extra-".length)).toLowerCase();
    } catch {
      throw new ImpersonationError(`invalid impersonation extra header key: ${h}`);
    }
    for (const v of values) {
      reqs.push({ kind: "UserExtra", name: v, extraKey: key });
      extra[key] = [...(extra[key] ?? []), v];
    }
  }
  const uidHeader = headers["impersonate-uid"];
  const uid = Array.isArray(uidHeader) ? uidHeader[0] : uidHeader;
  if (uid) reqs.push({ kind: "UID", name: uid });
  if (!reqs.length) return requestor;
  if (!username) throw new ImpersonationError(`requested ${goRefs(reqs)} without impersonating a user`);

  let name = "";
  let outGroups: string[] = [];
  for (const r of reqs) {
    const attrs: RequestAttributes = {
      user: requestor,
      verb: "impersonate",
      group: "",
      resource: "",
      subresource: "",
      namespace: r.namespace ?? "",
      name: r.name,
    };
    switch (r.kind) {
      case "ServiceAccount":
        attrs.resource = "serviceaccounts";
        name = `system:serviceaccount:${r.namespace}:${r.name}`;
        if (!groups.length) outGroups = ["system:serviceaccounts", `system:serviceaccounts:${r.namespace}`];
        break;
      case "User":
        attrs.resource = "users";
        name = r.name;
        break;
      case "Group":
        attrs.resource = "groups";
        outGroups.push(r.name);
        break;
      case "UserExtra":
        attrs.group = AUTH_GROUP;
        attrs.resource = "userextras";
        attrs.subresource = r.extraKey ?? "";
        break;
      case "UID":
        attrs.group = AUTH_GROUP;
        attrs.resource = "uids";
        break;
    }
    const denied = authorize(attrs, core);
    if (denied !== undefined)
      throw forbidden(attrs.resource, attrs.group, r.name, forbiddenMessage(attrs, denied));
  }
  // without explicit groups a non-anonymous user is system:authenticated
  if (
    !groups.length &&
    name !== "system:anonymous" &&
    !outGroups.includes("system:authenticated") &&
    !outGroups.includes("system:unauthenticated")
  )
    outGroups.push("system:authenticated");
  const user: UserInfo = { username: name, groups: outGroups };
  if (uid) user.uid = uid;
  if (Object.keys(extra).length) user.extra = extra;
  return user;
}

/** The plain-text 500 body upstream's responsewriters.InternalError writes. */
export function impersonationErrorBody(requestUri: string, e: ImpersonationError): string {
  const text = `Internal Server Error: ${JSON.stringify(requestUri)}: ${e.message}`;
  return `${text.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;")}\n`;
}
