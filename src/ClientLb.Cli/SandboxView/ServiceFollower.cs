using System.Text.Json.Nodes;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Sandbox;

namespace ClientLb.Cli.SandboxView;

/// <summary>
/// Leases every Service of the cluster in the view's registry as it appears (so the dashboard shows it, fed by the
/// Kubernetes source's watch) and releases it when it is deleted. Woken by every change of the cluster.
/// </summary>
internal sealed class ServiceFollower(SandboxCluster cluster, ServiceRegistry registry) : IAsyncDisposable
{
    private readonly Dictionary<string, ServiceBalancerLease> _leases = new(StringComparer.Ordinal);
    private readonly CancellationTokenSource _stop = new();
    private Task _loop = Task.CompletedTask;

    /// <summary>Services the view could not follow, with the reason (e.g. a name no source serves).</summary>
    public IReadOnlyDictionary<string, string> Failures => _failures;

    private readonly System.Collections.Concurrent.ConcurrentDictionary<string, string> _failures = new(StringComparer.Ordinal);

    public void Start() => _loop = RunAsync(_stop.Token);

    private async Task RunAsync(CancellationToken stop)
    {
        while (!stop.IsCancellationRequested)
        {
            long seen = cluster.ResourceVersion;
            await SyncAsync();
            try
            {
                await cluster.WaitUntilAsync(c => c.ResourceVersion != seen, stop);
            }
            catch (OperationCanceledException)
            {
                return;
            }
        }
    }

    private async Task SyncAsync()
    {
        var names = new HashSet<string>(StringComparer.Ordinal);
        foreach (JsonObject service in await cluster.ListAsync("v1", "Service", ns: null))
        {
            string? name = service["metadata"]?["name"]?.GetValue<string>();
            string? ns = service["metadata"]?["namespace"]?.GetValue<string>();
            if (name is null || ns is null || (ns == "default" && name == "kubernetes"))
            {
                continue;
            }
            names.Add(name + "." + ns);
        }
        foreach (string gone in _leases.Keys.Where(k => !names.Contains(k)).ToList())
        {
            _leases.Remove(gone, out ServiceBalancerLease? lease);
            lease!.Dispose();
        }
        foreach (string name in names.Where(n => !_leases.ContainsKey(n)))
        {
            try
            {
                // As http://name.ns: the balancer the traffic generator's requests use, so its health and picks are the ones shown.
                _leases[name] = registry.AcquireBalancer("http://" + name);
                _failures.TryRemove(name, out _);
            }
            catch (Exception ex) when (ex is ServiceNotFoundException or ServiceNameFormatException or InvalidOperationException)
            {
                _failures[name] = ex.Message;
            }
        }
    }

    public async ValueTask DisposeAsync()
    {
        await _stop.CancelAsync();
        await _loop;
        foreach (ServiceBalancerLease lease in _leases.Values)
        {
            lease.Dispose();
        }
        _leases.Clear();
    }
}
