using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Sources;
using ClientLb.Names;
using ClientLb.Sandbox;
using ClientLb.Sources;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ClientLb.Kubernetes.Tests.Infrastructure;

/// <summary>Factories pointed at a sandbox through its kubeconfig, with fast reconnects so fault tests stay short.</summary>
internal static class TestFactory
{
    public static KubernetesSourceOptions Options(string kubeconfig, Action<KubernetesSourceOptions>? configure = null)
    {
        var options = new KubernetesSourceOptions
        {
            Mode = KubernetesConfigMode.Kubeconfig,
            KubeconfigPath = kubeconfig,
            AllowLoopbackEndpoints = true, // sandbox pods are 127.244.x.y servers
            ReconnectDelay = TimeSpan.FromMilliseconds(20),
            MaxReconnectDelay = TimeSpan.FromMilliseconds(250),
            RequestTimeout = TimeSpan.FromSeconds(5),
        };
        configure?.Invoke(options);
        return options;
    }

    public static KubernetesEndpointSourceFactory Create(SandboxCluster cluster, Action<KubernetesSourceOptions>? configure = null, IKubernetesApi? api = null,
        ILoggerFactory? logs = null, IServiceProvider? services = null) =>
        new(Microsoft.Extensions.Options.Options.Create(Options(cluster.KubeconfigPath, configure)), api, services, null, logs);

    public static IEndpointSource Source(this KubernetesEndpointSourceFactory factory, string name)
    {
        IEndpointSource source = factory.TryCreate(ServiceName.Parse(name)) ?? throw new InvalidOperationException("the factory did not serve " + name);
        source.Start();
        return source;
    }

    /// <summary>A deployment of <paramref name="replicas"/> echo pods and a service over them, ready.</summary>
    public static async Task DeployAsync(SandboxCluster cluster, string name, int replicas, string ns = "default", bool headless = false)
    {
        await cluster.CreateDeploymentAsync(name, replicas, 8080, ns);
        await cluster.CreateServiceAsync(name, name, 80, 8080, ns, headless);
        using var cts = new CancellationTokenSource(Await.DefaultTimeout);
        await cluster.WaitForReadyEndpointsAsync(name, replicas, ns, cts.Token);
    }

    public static HashSet<string> PodIps(SandboxCluster cluster, string app, string ns = "default", bool readyOnly = true) =>
        [.. cluster.GetPods("app=" + app, ns).Where(p => p.IP is not null && (!readyOnly || (p.Ready && !p.Terminating))).Select(p => p.IP!)];
}
