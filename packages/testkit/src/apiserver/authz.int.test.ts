import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ApiServer, startApiServer } from "./server.js";
import { kubectl, raw, requireKubectl } from "./test-support.js";

const hasKubectl = await requireKubectl("the impersonation and NodeRestriction tests");

let server: ApiServer;
let admin: string;
let nodeKc: string;

beforeAll(async () => {
  server = await startApiServer({
    controllers: { scheduler: false, endpointSlices: false, nodeLifecycle: false },
  });
  admin = server.kubeconfigPath;
  nodeKc = await server.kubeconfigFor("system:node:n1");
  for (const n of ["n1", "other"]) {
    const r = await raw(server, "POST", "/api/v1/nodes", JSON.stringify({ metadata: { name: n } }), {
      "Content-Type": "application/json",
    });
    expect(r.status).toBe(201);
  }
});
afterAll(async () => {
  await server?.stop();
});

describe.skipIf(!hasKubectl)("impersonation (Impersonate-* headers, verb impersonate)", () => {
  it("an admin acting as another node is held to that node's rights", async () => {
    const r = await kubectl(admin, [
      "--as=system:node:other",
      "--as-group=system:nodes",
      "patch",
      "node",
      "n1",
      "--subresource=status",
      "--type=merge",
      "-p",
      '{"status":{"phase":"Running"}}',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'Error from server (Forbidden): nodes "n1" is forbidden: node "other" is not allowed to modify node "n1"\n',
    );
    const own = await kubectl(admin, [
      "--as=system:node:n1",
      "--as-group=system:nodes",
      "label",
      "node",
      "n1",
      "topology.kubernetes.io/zone=a",
    ]);
    expect(own.stdout).toBe("node/n1 labeled\n");
  });

  it("auth can-i and whoami answer for the impersonated user", async () => {
    const jane = await kubectl(admin, ["auth", "can-i", "get", "pods", "--as=jane"]);
    expect(jane.stdout).toBe("no\n");
    expect(jane.code).toBe(1);
    const node = await kubectl(admin, [
      "auth",
      "can-i",
      "get",
      "pods",
      "--as=system:node:n1",
      "--as-group=system:nodes",
    ]);
    expect(node.stdout).toBe("yes\n");
    const who = JSON.parse((await kubectl(admin, ["auth", "whoami", "--as=jane", "-o", "json"])).stdout);
    expect(who.status.userInfo).toEqual({ username: "jane", groups: ["system:authenticated"] });
    const sa = JSON.parse(
      (await kubectl(admin, ["auth", "whoami", "--as=system:serviceaccount:default:robot", "-o", "json"]))
        .stdout,
    );
    expect(sa.status.userInfo).toEqual({
      username: "system:serviceaccount:default:robot",
      groups: ["system:serviceaccounts", "system:serviceaccounts:default", "system:authenticated"],
    });
    const grouped = JSON.parse(
      (await kubectl(admin, ["auth", "whoami", "--as=jane", "--as-group=devs", "--as-uid=u-1", "-o", "json"]))
        .stdout,
    );
    expect(grouped.status.userInfo).toEqual({ username: "jane", uid: "u-1", groups: ["devs"] });
  });

  it("a node may not impersonate: 403 naming the impersonate verb", async () => {
    const r = await kubectl(nodeKc, ["get", "nodes", "--as=admin"]);
    expect(r.code).toBe(1);
    expect(r.stderr).toBe(
      'Error from server (Forbidden): users "admin" is forbidden: User "system:node:n1" cannot impersonate resource "users" in API group "" at the cluster scope\n',
    );
  });

  it("groups without a user are refused with upstream's plain-text 500", async () => {
    const r = await raw(server, "GET", "/api/v1/pods", undefined, { "Impersonate-Group": "devs" });
    expect(r.status).toBe(500);
    expect(r.headers["content-type"]).toBe("text/plain; charset=utf-8");
    expect(r.text).toBe(
      'Internal Server Error: "/api/v1/pods": requested [{Group  devs    }] without impersonating a user\n',
    );
  });
});

describe.skipIf(!hasKubectl)(
  "NodeRestriction on a node's own Node object (admission, not authorization)",
  () => {
    it("a node may not change its own taints", async () => {
      const r = await kubectl(nodeKc, ["taint", "node", "n1", "dedicated=gpu:NoSchedule"]);
      expect(r.code).toBe(1);
      expect(r.stderr).toBe(
        'Error from server (Forbidden): nodes "n1" is forbidden: node "n1" is not allowed to modify taints\n',
      );
    });

    it("a node may not add node-role or node-restriction labels, but may set kubelet labels", async () => {
      const role = await kubectl(nodeKc, ["label", "node", "n1", "node-role.kubernetes.io/worker="]);
      expect(role.stderr).toBe(
        'Error from server (Forbidden): nodes "n1" is forbidden: is not allowed to modify labels: node-role.kubernetes.io/worker\n',
      );
      const restricted = await kubectl(nodeKc, [
        "label",
        "node",
        "n1",
        "node-restriction.kubernetes.io/pool=a",
      ]);
      expect(restricted.stderr).toContain(
        "is not allowed to modify labels: node-restriction.kubernetes.io/pool",
      );
      const ok = await kubectl(nodeKc, [
        "label",
        "node",
        "n1",
        "node.kubernetes.io/instance-type=m1",
        "example.com/rack=r7",
      ]);
      expect(ok.stdout).toBe("node/n1 labeled\n");
    });

    it("a node may not register with a node-role label", async () => {
      const n3 = await server.kubeconfigFor("system:node:n3");
      const r = await kubectl(
        n3,
        ["create", "-f", "-"],
        JSON.stringify({
          apiVersion: "v1",
          kind: "Node",
          metadata: {
            name: "n3",
            labels: { "kubernetes.io/hostname": "n3", "node-role.kubernetes.io/worker": "" },
          },
        }),
      );
      expect(r.stderr).toBe(
        'Error from server (Forbidden): error when creating "STDIN": nodes "n3" is forbidden: node "n3" is not allowed to set the following labels: node-role.kubernetes.io/worker\n',
      );
    });

    it("leases outside kube-node-lease are refused by admission", async () => {
      const r = await kubectl(
        nodeKc,
        ["create", "-f", "-"],
        JSON.stringify({
          apiVersion: "coordination.k8s.io/v1",
          kind: "Lease",
          metadata: { name: "n1", namespace: "default" },
        }),
      );
      expect(r.stderr).toBe(
        'Error from server (Forbidden): error when creating "STDIN": leases.coordination.k8s.io "n1" is forbidden: can only access leases in the "kube-node-lease" system namespace\n',
      );
    });

    it("kubectl auth can-i reports authorization only: yes where admission would still refuse", async () => {
      const other = await kubectl(nodeKc, ["auth", "can-i", "patch", "nodes/other", "--subresource=status"]);
      expect(other.stdout).toBe("yes\n");
      const secret = await kubectl(nodeKc, ["auth", "can-i", "get", "secrets/unrelated"]);
      expect(secret.stdout).toBe("no - no relationship found between node 'n1' and this object\n");
    });
  },
);

describe.skipIf(!hasKubectl)("kubectl auth can-i --list (SelfSubjectRulesReview)", () => {
  it("lists everything for an admin and the basic rules for other users", async () => {
    const all = await kubectl(admin, ["auth", "can-i", "--list"]);
    expect(all.code).toBe(0);
    const lines = all.stdout.split("\n");
    expect(lines[0]).toMatch(/^Resources\s+Non-Resource URLs\s+Resource Names\s+Verbs$/);
    expect(lines[1]).toMatch(/^\*\.\*\s+\[\]\s+\[\]\s+\[\*\]$/);
    const jane = await kubectl(admin, ["auth", "can-i", "--list", "--as=jane"]);
    expect(jane.stdout).not.toContain("*.*");
    expect(jane.stdout).toMatch(
      /selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]/,
    );
    expect(jane.stdout).toMatch(/\s+\[\/healthz\]\s+\[\]\s+\[get\]/);
  });

  it("warns that a node's list is incomplete, as the node authorizer cannot list rules", async () => {
    const r = await kubectl(nodeKc, ["auth", "can-i", "--list"]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain(
      "Warning: the list may be incomplete: node authorizer does not support user rule resolution",
    );
  });
});

describe.skipIf(!hasKubectl)("RBAC Roles and Bindings for users the built-in rules deny", () => {
  it("a RoleBinding grants a Role's rules in its namespace only", async () => {
    const run = async (...args: string[]): Promise<string> => (await kubectl(admin, args)).stdout;
    expect(await run("create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods")).toBe(
      "role.rbac.authorization.k8s.io/pod-reader created\n",
    );
    expect(await run("create", "rolebinding", "jane-reads", "--role=pod-reader", "--user=jane")).toBe(
      "rolebinding.rbac.authorization.k8s.io/jane-reads created\n",
    );
    expect(await run("auth", "can-i", "list", "pods", "--as=jane")).toBe("yes\n");
    expect(await run("auth", "can-i", "list", "pods", "--as=jane", "-n", "kube-system")).toBe("no\n");
    expect(await run("auth", "can-i", "delete", "pods", "--as=jane")).toBe("no\n");
    const secrets = await kubectl(admin, ["get", "secrets", "--as=jane"]);
    expect(secrets.stderr).toBe(
      'Error from server (Forbidden): secrets is forbidden: User "jane" cannot list resource "secrets" in API group "" in the namespace "default"\n',
    );
    expect((await kubectl(admin, ["get", "pods", "--as=jane"])).code).toBe(0);
    expect(await run("get", "rolebinding", "jane-reads")).toMatch(
      /^NAME\s+ROLE\s+AGE\njane-reads\s+Role\/pod-reader\s+/,
    );
  });

  it("SubjectAccessReview reports the upstream RBAC allow reason; groups bind through ClusterRoleBindings", async () => {
    await kubectl(admin, ["create", "clusterrole", "node-reader", "--verb=get", "--resource=nodes"]);
    await kubectl(admin, [
      "create",
      "clusterrolebinding",
      "devs-read-nodes",
      "--clusterrole=node-reader",
      "--group=devs",
    ]);
    const sar = await raw(
      server,
      "POST",
      "/apis/authorization.k8s.io/v1/subjectaccessreviews",
      JSON.stringify({
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: {
          user: "bob",
          groups: ["devs"],
          resourceAttributes: { verb: "get", resource: "nodes", name: "n1" },
        },
      }),
      { "Content-Type": "application/json" },
    );
    expect(sar.body.status).toEqual({
      allowed: true,
      reason:
        'RBAC: allowed by ClusterRoleBinding "devs-read-nodes" of ClusterRole "node-reader" to Group "devs"',
    });
    const jane = await raw(
      server,
      "POST",
      "/apis/authorization.k8s.io/v1/subjectaccessreviews",
      JSON.stringify({
        apiVersion: "authorization.k8s.io/v1",
        kind: "SubjectAccessReview",
        spec: { user: "jane", resourceAttributes: { namespace: "default", verb: "watch", resource: "pods" } },
      }),
      { "Content-Type": "application/json" },
    );
    expect(jane.body.status.reason).toBe(
      'RBAC: allowed by RoleBinding "jane-reads/default" of Role "pod-reader" to User "jane"',
    );
    expect(
      (await kubectl(admin, ["auth", "can-i", "get", "nodes", "--as=bob", "--as-group=devs"])).stdout,
    ).toBe("yes\n");
  });
});
