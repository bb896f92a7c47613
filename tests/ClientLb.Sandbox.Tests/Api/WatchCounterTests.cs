namespace ClientLb.Sandbox.Tests.Api;

/// <summary><see cref="SandboxCluster.Watches"/>: API watches counted per user and resource, open now and ever opened.</summary>
public class WatchCounterTests
{
    [Fact]
    public async Task Watches_are_counted_per_service_account_and_resource_while_open_and_in_total()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { Authorization = SandboxAuthorization.Rbac, UseHttps = true, EnableDns = false });
        await cluster.ApplyManifestAsync("""
            apiVersion: v1
            kind: ServiceAccount
            metadata: {name: watcher}
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: Role
            metadata: {name: watch-slices}
            rules: [{apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [watch]}]
            ---
            apiVersion: rbac.authorization.k8s.io/v1
            kind: RoleBinding
            metadata: {name: watcher-watches-slices}
            subjects: [{kind: ServiceAccount, name: watcher}]
            roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: watch-slices}
            """);
        string kubeconfig = await cluster.WriteServiceAccountKubeconfigAsync("watcher");
        try
        {
            string token = System.Text.RegularExpressions.Regex.Match(await File.ReadAllTextAsync(kubeconfig), "token: \"([^\"]+)\"").Groups[1].Value;
            using HttpClient http = cluster.CreateHttpClient();
            http.DefaultRequestHeaders.Authorization = new("Bearer", token);
            (string, string) key = ("system:serviceaccount:default:watcher", "endpointslices.discovery.k8s.io");
            using (HttpResponseMessage watch = await http.GetAsync("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?watch=true", HttpCompletionOption.ResponseHeadersRead))
            {
                Assert.Equal(System.Net.HttpStatusCode.OK, watch.StatusCode);
                Assert.Equal(1, cluster.Watches.Open[key]);
                Assert.Equal(1, cluster.Watches.Opened[key]);
                // A refused watch (no rule for services) is not counted.
                using HttpResponseMessage refused = await http.GetAsync("/api/v1/namespaces/default/services?watch=true", HttpCompletionOption.ResponseHeadersRead);
                Assert.Equal(System.Net.HttpStatusCode.Forbidden, refused.StatusCode);
                Assert.DoesNotContain(cluster.Watches.Opened.Keys, k => k.Resource == "services" && k.User == key.Item1);
            }
            // Closing is counted too: the relay tests see a client's watches go back to 0 (NodeRelaySandboxTests).
        }
        finally
        {
            File.Delete(kubeconfig);
        }
    }
}
