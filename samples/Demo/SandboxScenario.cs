using ClientLb.Sandbox;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Samples.Demo;

/// <summary>
/// The embedded sandbox cluster: a payment Deployment (3 pods, each a real server on its own 127.244.x.y) behind
/// payment-service.finance, found through ClientLb's Kubernetes source (a live EndpointSlice watch). During the run
/// the deployment scales to 5, a pod is deleted, and it scales to 2.
/// </summary>
internal sealed class SandboxScenario : IScenario
{
    private const string Manifest = """
        apiVersion: apps/v1
        kind: Deployment
        metadata:
          name: payment
          namespace: finance
        spec:
          replicas: 3
          selector:
            matchLabels: { app: payment }
          template:
            metadata:
              labels: { app: payment }
            spec:
              terminationGracePeriodSeconds: 2
              containers:
              - name: payment
                image: payment:1.0
                ports:
                - { name: http, containerPort: 8080 }
        ---
        apiVersion: v1
        kind: Service
        metadata:
          name: payment-service
          namespace: finance
        spec:
          selector: { app: payment }
          ports:
          - { name: http, port: 80, targetPort: http }
        """;

    private readonly SandboxCluster _cluster;
    private readonly ServiceProvider _provider;

    private SandboxScenario(SandboxCluster cluster, ServiceProvider provider, HttpClient client)
    {
        _cluster = cluster;
        _provider = provider;
        Client = client;
        Events =
        [
            (0.25, "scale payment to 5", () => cluster.ScaleDeploymentAsync("payment", 5, "finance")),
            (0.5, "delete one pod", () => cluster.DeletePodAsync(cluster.GetPods("app=payment", "finance").First(p => !p.Terminating).Name, "finance")),
            (0.75, "scale payment to 2", () => cluster.ScaleDeploymentAsync("payment", 2, "finance")),
        ];
    }

    public static async Task<SandboxScenario> StartAsync(CancellationToken cancellationToken)
    {
        SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { Namespaces = ["finance"] }, cancellationToken);
        await cluster.ApplyManifestAsync(Manifest);
        await cluster.WaitForReadyEndpointsAsync("payment-service", 3, "finance", cancellationToken);

        var services = new ServiceCollection();
        services.AddClientLbKubernetes(o =>
        {
            o.KubeconfigPath = cluster.KubeconfigPath;
            o.AllowLoopbackEndpoints = true; // sandbox pods are 127.244.x.y servers
        });
        services.AddHttpClient("payments", c => c.BaseAddress = new Uri("http://payment-service.finance")).AddClientLb();
        ServiceProvider provider = services.BuildServiceProvider();
        return new SandboxScenario(cluster, provider, provider.GetRequiredService<IHttpClientFactory>().CreateClient("payments"));
    }

    public string Description => $"http://payment-service.finance through the Kubernetes source on the sandbox (API {_cluster.ApiServerUri}, kubeconfig {_cluster.KubeconfigPath})";

    public HttpClient Client { get; }

    public IReadOnlyList<(double At, string What, Func<Task> Do)> Events { get; }

    public string Label(string backend)
    {
        SandboxPod? pod = _cluster.GetPods("app=payment", "finance").FirstOrDefault(p => p.Name == backend);
        return pod is null ? backend + " (gone)" : pod.Terminating ? backend + " (terminating)" : backend;
    }

    public async ValueTask DisposeAsync()
    {
        await _provider.DisposeAsync();
        await _cluster.DisposeAsync();
    }
}
