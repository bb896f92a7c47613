using ClientLb.Sandbox;

namespace ClientLb.Samples.PaymentService;

/// <summary>
/// The seed's payment-service on the embedded sandbox: the Service and Deployment of payment-service.yaml applied, and
/// one PaymentService per ready pod serving that pod's address (8080 HTTP, 8081 gRPC), started and stopped as pods come
/// and go, so scaling the Deployment (kubectl scale) changes who answers.
/// </summary>
public sealed class PaymentSandbox : IAsyncDisposable
{
    private readonly Dictionary<string, WebApplication> _apps = [];
    private readonly CancellationTokenSource _stop = new();
    private readonly SemaphoreSlim _sync = new(1, 1);
    private Task _follow = Task.CompletedTask;

    private PaymentSandbox(SandboxCluster cluster) => Cluster = cluster;

    /// <summary>The sandbox cluster (its kubeconfig is <see cref="SandboxCluster.KubeconfigPath"/>).</summary>
    public SandboxCluster Cluster { get; }

    /// <summary>The pods PaymentService currently serves.</summary>
    public IReadOnlyCollection<string> ServedPods
    {
        get
        {
            lock (_apps)
            {
                return [.. _apps.Keys];
            }
        }
    }

    /// <summary>Starts the sandbox, applies the manifest with <paramref name="replicas"/> pods and waits for them to serve.</summary>
    public static async Task<PaymentSandbox> StartAsync(int replicas = 3, string? kubeconfigPath = null, CancellationToken cancellationToken = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(replicas);
        SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { Namespaces = ["finance"], KubeconfigPath = kubeconfigPath }, cancellationToken);
        var sandbox = new PaymentSandbox(cluster);
        try
        {
            string manifest = await File.ReadAllTextAsync(Path.Combine(AppContext.BaseDirectory, "payment-service.yaml"), cancellationToken);
            await cluster.ApplyManifestAsync(manifest.Replace("replicas: 3", $"replicas: {replicas}", StringComparison.Ordinal));
            await cluster.WaitForReadyEndpointsAsync("payment-service", replicas, "finance", cancellationToken);
            await sandbox.SyncAsync();
            sandbox._follow = sandbox.FollowAsync();
            return sandbox;
        }
        catch
        {
            await sandbox.DisposeAsync();
            throw;
        }
    }

    // The sandbox has no pod watch for in-process callers; a short poll of its store is enough for a demo.
    private async Task FollowAsync()
    {
        using var timer = new PeriodicTimer(TimeSpan.FromMilliseconds(200));
        try
        {
            while (await timer.WaitForNextTickAsync(_stop.Token))
            {
                await SyncAsync();
            }
        }
        catch (OperationCanceledException) when (_stop.IsCancellationRequested)
        {
        }
    }

    private async Task SyncAsync()
    {
        await _sync.WaitAsync();
        try
        {
            var pods = Cluster.GetPods("app=payment", "finance").Where(p => p.IP is not null && !p.Terminating).ToDictionary(p => p.Name, p => p.IP!);
            foreach ((string name, string ip) in pods)
            {
                if (!_apps.ContainsKey(name))
                {
                    WebApplication app = PaymentApp.Build(name, ip);
                    await app.StartAsync();
                    lock (_apps)
                    {
                        _apps[name] = app;
                    }
                }
            }
            foreach (string gone in _apps.Keys.Where(n => !pods.ContainsKey(n)).ToList())
            {
                WebApplication app = _apps[gone];
                lock (_apps)
                {
                    _apps.Remove(gone);
                }
                await app.DisposeAsync();
            }
        }
        finally
        {
            _sync.Release();
        }
    }

    /// <inheritdoc />
    public async ValueTask DisposeAsync()
    {
        _stop.Cancel();
        await _follow;
        foreach (WebApplication app in _apps.Values)
        {
            await app.DisposeAsync();
        }
        _apps.Clear();
        await Cluster.DisposeAsync();
        _stop.Dispose();
    }
}
