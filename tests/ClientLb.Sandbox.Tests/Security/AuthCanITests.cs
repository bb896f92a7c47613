using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.Security;

/// <summary>
/// <c>kubectl auth can-i</c> with the real kubectl against the sandbox with RBAC on: SelfSubjectAccessReview and
/// SelfSubjectRulesReview (<c>--list</c>) as kubectl sends them (protobuf), for users it impersonates with <c>--as</c>,
/// answered by the sandbox's RBAC evaluator; and SubjectAccessReview for a named user.
/// </summary>
public class AuthCanITests
{
    private const string Accounts = """
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: reader}
        ---
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: watcher}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: service-getter}
        rules: [{apiGroups: [""], resources: ["services"], verbs: ["get"]}]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: reader-gets-services}
        subjects: [{kind: ServiceAccount, name: reader}]
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: service-getter}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata: {name: slice-watcher}
        rules: [{apiGroups: ["discovery.k8s.io"], resources: ["endpointslices"], verbs: ["get", "list", "watch"]}]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: watcher-watches-slices}
        subjects: [{kind: ServiceAccount, name: watcher, namespace: default}]
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: slice-watcher}
        """;

    private const string Reader = "--as=system:serviceaccount:default:reader";
    private const string Watcher = "--as=system:serviceaccount:default:watcher";

    [Fact]
    public async Task Kubectl_auth_can_i_answers_from_the_bound_roles_for_impersonated_service_accounts()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { Authorization = SandboxAuthorization.Rbac, UseHttps = true, EnableDns = false, EnableServiceProxy = false });
        using var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);
        await kubectl.OkAsync("create", "namespace", "finance");
        (int exit, string _, string? stderr) = await kubectl.RunAsync(["apply", "-f", "-"], Accounts);
        Assert.True(exit == 0, stderr);

        async Task<(int Exit, string Answer)> CanI(params string[] args)
        {
            (int code, string? stdout, string? err) = await kubectl.RunAsync(["auth", "can-i", .. args]);
            Assert.True(code is 0 or 1, $"kubectl auth can-i {string.Join(' ', args)} exited {code}: {err}");
            return (code, stdout.Trim());
        }

        // The reader may only get services in default: every other question is a no (exit 1).
        Assert.Equal((0, "yes"), await CanI("get", "services", Reader));
        (int code, string? answer) = await CanI("list", "endpointslices", Reader);
        Assert.Equal(1, code);
        Assert.StartsWith("no", answer);
        Assert.Equal(1, (await CanI("list", "services", Reader)).Exit);
        Assert.Equal(1, (await CanI("get", "services", "-n", "finance", Reader)).Exit);
        Assert.Equal(1, (await CanI("delete", "services/my-service", Reader)).Exit);

        // The watcher is bound (by a RoleBinding of a ClusterRole) to read slices in default only.
        Assert.Equal((0, "yes"), await CanI("list", "endpointslices", Watcher));
        Assert.Equal((0, "yes"), await CanI("watch", "endpointslices.discovery.k8s.io", Watcher));
        Assert.Equal(1, (await CanI("list", "endpointslices", "-n", "finance", Watcher)).Exit);
        Assert.Equal(1, (await CanI("list", "endpointslices", "--all-namespaces", Watcher)).Exit);
        Assert.Equal(1, (await CanI("get", "services", Watcher)).Exit);

        // Binding more changes the answer at once; the admin may do anything.
        await cluster.ApplyManifestAsync("""
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata: {name: reader-watches-slices}
            subjects: [{kind: ServiceAccount, name: reader}]
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: slice-watcher}
            """);
        Assert.Equal((0, "yes"), await CanI("list", "endpointslices", Reader));
        Assert.Equal((0, "yes"), await CanI("delete", "nodes", "--all-namespaces"));

        // Impersonation applies to ordinary requests as well: the reader is refused a list.
        (exit, _, stderr) = await kubectl.RunAsync(["get", "services", Reader]);
        Assert.NotEqual(0, exit);
        Assert.Contains("User \"system:serviceaccount:default:reader\" cannot list resource \"services\"", stderr);

        // --list: the reader's rules in default (its bindings, plus what every authenticated user may do).
        string list = await kubectl.OkAsync("auth", "can-i", "--list", Reader);
        Assert.Matches(@"(?m)^services\s+\[\]\s+\[\]\s+\[get\]", list);
        Assert.Matches(@"(?m)^endpointslices\.discovery\.k8s\.io\s+\[\]\s+\[\]\s+\[get list watch\]", list);
        Assert.Matches(@"(?m)^selfsubjectaccessreviews\.authorization\.k8s\.io\s+\[\]\s+\[\]\s+\[create\]", list);
        Assert.Matches(@"(?m)^\s+\[[^\]]*/version[^\]]*\]\s+\[\]\s+\[get\]", list);
        Assert.DoesNotMatch(@"(?m)^services\s.*\[get\]", await kubectl.OkAsync("auth", "can-i", "--list", "-n", "finance", Reader));
    }

    [Fact]
    public async Task Kubectl_sends_the_reviews_as_protobuf_and_gets_protobuf_back()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { Authorization = SandboxAuthorization.Rbac, UseHttps = true, EnableDns = false, EnableServiceProxy = false });
        using var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);
        await cluster.ApplyManifestAsync(Accounts);
        (int exit, string? stdout, string? stderr) = await kubectl.RunAsync(["auth", "can-i", "list", "endpointslices", Watcher, "-v=8"]);
        Assert.Equal(0, exit);
        Assert.Equal("yes", stdout.Trim());
        // kubectl -v=8 prints the review's request headers (in no fixed order), then the response's.
        Match post = System.Text.RegularExpressions.Regex.Match(stderr, @"POST https://127\.0\.0\.1:\d+/apis/authorization\.k8s\.io/v1/selfsubjectaccessreviews");
        Assert.True(post.Success, stderr);
        int status = stderr.IndexOf("Response Status:", post.Index, StringComparison.Ordinal);
        Assert.True(status > 0, stderr);
        string request = stderr[post.Index..status];
        Assert.Contains("Content-Type: application/vnd.kubernetes.protobuf", request);
        Assert.Contains("Impersonate-User: system:serviceaccount:default:watcher", request);
        Assert.Matches(@"Response Headers:[\s\S]*Content-Type: application/vnd\.kubernetes\.protobuf", stderr[status..]);
    }

    [Fact]
    public async Task A_subject_access_review_answers_for_a_named_user_and_needs_create_on_subjectaccessreviews()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { Authorization = SandboxAuthorization.Rbac, UseHttps = true, EnableDns = false, EnableServiceProxy = false });
        await cluster.ApplyManifestAsync(Accounts);
        using HttpClient admin = cluster.CreateHttpClient();
        async Task<(System.Net.HttpStatusCode Code, JsonNode? Body)> Review(HttpClient http, JsonObject spec)
        {
            var body = new JsonObject { ["apiVersion"] = "authorization.k8s.io/v1", ["kind"] = "SubjectAccessReview", ["spec"] = spec };
            using HttpResponseMessage response = await http.PostAsync("/apis/authorization.k8s.io/v1/subjectaccessreviews", new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
            return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync()));
        }
        JsonObject Slices(string verb, string ns = "default") => new() { ["namespace"] = ns, ["verb"] = verb, ["group"] = "discovery.k8s.io", ["resource"] = "endpointslices" };

        (System.Net.HttpStatusCode status, JsonNode? review) = await Review(admin, new JsonObject { ["user"] = "system:serviceaccount:default:watcher", ["resourceAttributes"] = Slices("watch") });
        Assert.Equal(System.Net.HttpStatusCode.Created, status);
        Assert.Equal(true, review.At("status", "allowed")?.GetValue<bool>());
        (_, review) = await Review(admin, new JsonObject { ["user"] = "system:serviceaccount:default:reader", ["resourceAttributes"] = Slices("watch") });
        Assert.Equal(false, review.At("status", "allowed")?.GetValue<bool>());
        Assert.Contains("cannot watch resource \"endpointslices\"", review.S("status", "reason"));
        // A group bound by a ClusterRoleBinding grants through the groups named in the review.
        await cluster.ApplyManifestAsync("""
            apiVersion: rbac.authorization.k8s.io/v1
            kind: ClusterRoleBinding
            metadata: {name: relays-watch-slices}
            subjects: [{kind: Group, name: "clientlb:relays", apiGroup: rbac.authorization.k8s.io}]
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: slice-watcher}
            """);
        (_, review) = await Review(admin, new JsonObject { ["user"] = "jane", ["groups"] = new JsonArray("clientlb:relays"), ["resourceAttributes"] = Slices("list", "finance") });
        Assert.Equal(true, review.At("status", "allowed")?.GetValue<bool>());

        // The same question within a namespace (LocalSubjectAccessReview), whose attributes must name that namespace.
        async Task<(System.Net.HttpStatusCode Code, JsonNode? Body)> Local(string ns, JsonObject spec)
        {
            var body = new JsonObject { ["apiVersion"] = "authorization.k8s.io/v1", ["kind"] = "LocalSubjectAccessReview", ["metadata"] = new JsonObject { ["namespace"] = ns }, ["spec"] = spec };
            using HttpResponseMessage response = await admin.PostAsync($"/apis/authorization.k8s.io/v1/namespaces/{ns}/localsubjectaccessreviews", new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
            return (response.StatusCode, JsonNode.Parse(await response.Content.ReadAsStringAsync()));
        }
        (status, review) = await Local("default", new JsonObject { ["user"] = "system:serviceaccount:default:watcher", ["resourceAttributes"] = Slices("list") });
        Assert.Equal(System.Net.HttpStatusCode.Created, status);
        Assert.Equal(true, review.At("status", "allowed")?.GetValue<bool>());
        Assert.Equal("default", review.S("metadata", "namespace"));
        (status, review) = await Local("default", new JsonObject { ["user"] = "system:serviceaccount:default:watcher", ["resourceAttributes"] = Slices("list", "finance") });
        Assert.Equal(System.Net.HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("spec.resourceAttributes.namespace: Invalid value: \"finance\": must match metadata.namespace", review.S("message"));

        (status, review) = await Review(admin, new JsonObject { ["resourceAttributes"] = Slices("list") });
        Assert.Equal(System.Net.HttpStatusCode.UnprocessableEntity, status);
        Assert.Contains("spec.user: Invalid value: \"\": at least one of user or group must be specified", review.S("message"));

        // A service account without create on subjectaccessreviews may not ask about others.
        string kubeconfig = await cluster.WriteServiceAccountKubeconfigAsync("watcher");
        try
        {
            using HttpClient watcher = cluster.CreateHttpClient();
            watcher.DefaultRequestHeaders.Authorization = new("Bearer", System.Text.RegularExpressions.Regex.Match(await File.ReadAllTextAsync(kubeconfig), "token: \"([^\"]+)\"").Groups[1].Value);
            (status, review) = await Review(watcher, new JsonObject { ["user"] = "jane", ["resourceAttributes"] = Slices("list") });
            Assert.Equal(System.Net.HttpStatusCode.Forbidden, status);
            Assert.Contains("cannot create resource \"subjectaccessreviews\" in API group \"authorization.k8s.io\" at the cluster scope", review.S("message"));
        }
        finally { File.Delete(kubeconfig); }
    }
}
