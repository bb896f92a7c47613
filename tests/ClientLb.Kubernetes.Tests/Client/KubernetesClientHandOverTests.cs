using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Sources;
using ClientLb.Kubernetes.Tests.Infrastructure;
using ClientLb.Sandbox;
using ClientLb.Sources;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Kubernetes.Tests.Client;

/// <summary>An application's own KubernetesClient <c>IKubernetes</c> carries ClientLb's lists and watches.</summary>
public sealed class KubernetesClientHandOverTests
{
    [Fact]
    public async Task A_registered_IKubernetes_lists_and_watches_the_sandbox_over_https_with_its_token()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { UseHttps = true });
        await TestFactory.DeployAsync(cluster, "web", 2);
        using var kubernetes = new k8s.Kubernetes(k8s.KubernetesClientConfiguration.BuildConfigFromConfigFile(cluster.KubeconfigPath));

        var services = new ServiceCollection();
        services.AddSingleton<k8s.IKubernetes>(kubernetes);
        // A kubeconfig that does not exist: ClientLb must not configure a client of its own.
        services.AddClientLbKubernetes(o =>
        {
            o.Mode = KubernetesConfigMode.Kubeconfig;
            o.KubeconfigPath = "/nonexistent/kubeconfig";
        });
        await using ServiceProvider provider = services.BuildServiceProvider();
        KubernetesEndpointSourceFactory factory = provider.GetRequiredService<KubernetesEndpointSourceFactory>();
        await using IEndpointSource source = factory.Source("http://web.default");
        await Await.EndpointsAsync(source, e => e.Count == 2, "2 endpoints listed through KubernetesClient's HttpClient");

        await cluster.ScaleDeploymentAsync("web", 3);
        await Await.EndpointsAsync(source, e => e.Count(x => x.Conditions.Ready) == 3, "the third endpoint through the watch");
        Assert.Contains("through the KubernetesClient IKubernetes", factory.Api!.Description);
        Assert.DoesNotContain(cluster.BearerToken!, factory.Api.Description);
    }

    [Fact]
    public async Task Errors_through_KubernetesClient_are_ClientLbs_bounded_and_named()
    {
        await using FaultyApiServer server = await FaultyApiServer.StartAsync();
        server.SetService("web");
        server.Fault = async (_, ctx) =>
        {
            await FaultyApiServer.AnswerAsync(ctx, 403, "Forbidden", "endpointslices is forbidden");
            return true;
        };
        using var kubernetes = new k8s.Kubernetes(new k8s.KubernetesClientConfiguration { Host = server.Uri.ToString(), AccessToken = FaultyApiServer.Token });
        using var api = new KubernetesApiClient(kubernetes);
        KubernetesApiException error = await Assert.ThrowsAsync<KubernetesApiException>(() => api.ListEndpointSlicesAsync("default", default, CancellationToken.None));
        Assert.Equal(System.Net.HttpStatusCode.Forbidden, error.StatusCode);
        Assert.Contains("endpointslices is forbidden", error.Message);
        Assert.Contains(KubernetesApiClient.RbacHint, error.Message);
        // KubernetesClient's credentials were applied to ClientLb's request.
        Assert.Equal("Bearer " + FaultyApiServer.Token, Assert.Single(server.Hits).Authorization);
    }
}
