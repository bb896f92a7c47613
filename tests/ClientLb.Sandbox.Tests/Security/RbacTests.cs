using ClientLb.Sandbox.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Sandbox.Tests.Security;

/// <summary>RBAC (<c>--authorization rbac</c>) with service-account tokens, against the real kubectl and ClientLb's own watch.</summary>
public class RbacTests
{
    private const string Reader = """
        apiVersion: v1
        kind: ServiceAccount
        metadata: {name: reader}
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: {name: service-getter}
        rules:
        - apiGroups: [""]
          resources: ["services"]
          verbs: ["get"]
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: {name: reader-gets-services}
        subjects: [{kind: ServiceAccount, name: reader}]
        roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: service-getter}
        """;

    [Fact]
    public async Task A_service_account_may_do_only_what_its_roles_allow_and_auth_can_i_says_so()
    {
        _ = Infrastructure.Kubectl.Path;
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { Authorization = SandboxAuthorization.Rbac, UseHttps = true, EnableDns = false });
        using var admin = new Infrastructure.Kubectl(cluster.KubeconfigPath);
        (int exit, string _, string? stderr) = await admin.RunAsync(["apply", "-f", "-"], Reader);
        Assert.True(exit == 0, stderr);
        Assert.Contains("reader", await admin.OkAsync("get", "sa", "reader", "-o", "name"));
        await cluster.ApplyManifestAsync(Infrastructure.Manifests.Seed);
        string kubeconfig = await cluster.WriteServiceAccountKubeconfigAsync("reader");
        try
        {
            using var reader = new Infrastructure.Kubectl(kubeconfig);
            Assert.Contains("my-service", await reader.OkAsync("get", "svc", "my-service", "-o", "name"));
            (exit, _, stderr) = await reader.RunAsync(["get", "svc"]);
            Assert.NotEqual(0, exit);
            Assert.Contains("services is forbidden: User \"system:serviceaccount:default:reader\" cannot list resource \"services\" in API group \"\" in the namespace \"default\"", stderr);
            (exit, _, stderr) = await reader.RunAsync(["delete", "svc", "my-service"]);
            Assert.Contains("cannot delete resource \"services\"", stderr);
            (exit, _, stderr) = await reader.RunAsync(["get", "endpointslices", "-A"]);
            Assert.Contains("cannot list resource \"endpointslices\" in API group \"discovery.k8s.io\" at the cluster scope", stderr);

            // SelfSubjectAccessReview, what `kubectl auth can-i` posts (kubectl 1.32 sends it as protobuf; here as JSON).
            using HttpClient http = cluster.CreateHttpClient();
            http.DefaultRequestHeaders.Authorization = new("Bearer", System.Text.RegularExpressions.Regex.Match(await File.ReadAllTextAsync(kubeconfig), "token: \"([^\"]+)\"").Groups[1].Value);
            async Task<(bool Allowed, string? Reason)> CanI(string verb, string resource, string group = "")
            {
                var body = new System.Text.Json.Nodes.JsonObject
                {
                    ["apiVersion"] = "authorization.k8s.io/v1", ["kind"] = "SelfSubjectAccessReview",
                    ["spec"] = new System.Text.Json.Nodes.JsonObject { ["resourceAttributes"] = new System.Text.Json.Nodes.JsonObject { ["namespace"] = "default", ["verb"] = verb, ["group"] = group, ["resource"] = resource } },
                };
                using HttpResponseMessage response = await http.PostAsync("/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", new StringContent(body.ToJsonString(), System.Text.Encoding.UTF8, "application/json"));
                Assert.Equal(System.Net.HttpStatusCode.Created, response.StatusCode);
                var review = System.Text.Json.Nodes.JsonNode.Parse(await response.Content.ReadAsStringAsync());
                return (review!["status"]!["allowed"]!.GetValue<bool>(), review.S("status", "reason"));
            }
            Assert.True((await CanI("get", "services")).Allowed);
            (bool allowed, string? reason) = await CanI("watch", "endpointslices", "discovery.k8s.io");
            Assert.False(allowed);
            Assert.Contains("cannot watch resource \"endpointslices\" in API group \"discovery.k8s.io\"", reason);
        }
        finally { File.Delete(kubeconfig); }
    }

    [Fact]
    public async Task A_clientlb_watch_fails_with_a_clear_forbidden_naming_verb_and_resource_until_list_and_watch_on_slices_are_bound()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { Authorization = SandboxAuthorization.Rbac, UseHttps = true, EnableDns = false });
        await cluster.ApplyManifestAsync(Reader);
        await cluster.ApplyManifestAsync(Infrastructure.Manifests.Seed);
        await cluster.WaitForReadyEndpointsAsync("my-service", 2, cancellationToken: Deadline.In());
        string kubeconfig = await cluster.WriteServiceAccountKubeconfigAsync("reader");
        try
        {
            async Task<string> CallAsync()
            {
                var services = new ServiceCollection();
                services.AddClientLbKubernetes(o => o.KubeconfigPath = kubeconfig);
                services.AddHttpClient("my").AddClientLb();
                await using ServiceProvider provider = services.BuildServiceProvider();
                using HttpClient http = provider.GetRequiredService<IHttpClientFactory>().CreateClient("my");
                using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(20));
                return await http.GetStringAsync("http://my-service.default/", cts.Token);
            }
            Exception error = await Assert.ThrowsAnyAsync<Exception>(CallAsync);
            string text = error.ToString();
            Assert.Contains("403", text);
            // ClientLb's error names the verb and resource the account lacks, and the rules its source needs.
            // The source lists services and slices side by side: whichever is refused first is named.
            Assert.Matches("""(services is forbidden: User "system:serviceaccount:default:reader" cannot list resource "services" in API group "" |endpointslices.discovery.k8s.io is forbidden: User "system:serviceaccount:default:reader" cannot list resource "endpointslices" in API group "discovery.k8s.io" )in the namespace "default""", text);
            Assert.Contains("ClientLb's Kubernetes source needs list and watch on endpointslices.discovery.k8s.io, and get (or get, list and watch) on services", text);

            // get on services and list/watch on endpointslices is enough (least privilege): the source reads the Service
            // with get when it may not list and watch services, and watches the slices.
            await cluster.ApplyManifestAsync("""
                apiVersion: rbac.authorization.k8s.io/v1
                kind: Role
                metadata: {name: slice-watcher}
                rules:
                - apiGroups: ["discovery.k8s.io"]
                  resources: ["endpointslices"]
                  verbs: ["list", "watch"]
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: RoleBinding
                metadata: {name: reader-watches-slices}
                subjects: [{kind: ServiceAccount, name: reader, namespace: default}]
                roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: slice-watcher}
                """);
            Assert.StartsWith("my-app-", await CallAsync());

            // list/watch on services too: still served (watched instead of read with get).
            await cluster.ApplyManifestAsync("""
                apiVersion: rbac.authorization.k8s.io/v1
                kind: Role
                metadata: {name: service-watcher}
                rules:
                - apiGroups: [""]
                  resources: ["services"]
                  verbs: ["list", "watch"]
                ---
                apiVersion: rbac.authorization.k8s.io/v1
                kind: RoleBinding
                metadata: {name: reader-watches-services}
                subjects: [{kind: ServiceAccount, name: reader, namespace: default}]
                roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: service-watcher}
                """);
            Assert.StartsWith("my-app-", await CallAsync());
        }
        finally { File.Delete(kubeconfig); }
    }
}
