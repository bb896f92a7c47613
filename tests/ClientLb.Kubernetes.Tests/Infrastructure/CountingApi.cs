using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Model;

namespace ClientLb.Kubernetes.Tests.Infrastructure;

/// <summary>Wraps an API and counts lists and watches per selector, to prove watches are shared.</summary>
internal sealed class CountingApi(IKubernetesApi inner) : IKubernetesApi
{
    private readonly Lock _gate = new();
    private readonly List<string> _calls = [];

    public string Description => inner.Description;

    public IReadOnlyList<string> Calls
    {
        get
        {
            lock (_gate)
            {
                return [.. _calls];
            }
        }
    }

    /// <summary>The resourceVersions the slice watches started from, in order.</summary>
    public IReadOnlyList<long> SliceWatchVersions => [.. Calls.Where(c => c.StartsWith("watch slices", StringComparison.Ordinal)).Select(c => long.Parse(c[(c.LastIndexOf('@') + 1)..], System.Globalization.CultureInfo.InvariantCulture))];

    public int Count(string prefix) => Calls.Count(c => c.StartsWith(prefix, StringComparison.Ordinal));

    private readonly List<(string Prefix, Task Released)> _holds = [];

    /// <summary>Makes calls starting with <paramref name="prefix"/> (recorded at once) wait until the returned source completes.</summary>
    public TaskCompletionSource Hold(string prefix)
    {
        var release = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        lock (_gate)
        {
            _holds.Add((prefix, release.Task));
        }
        return release;
    }

    private Task Record(string call, CancellationToken cancellationToken)
    {
        lock (_gate)
        {
            _calls.Add(call);
            Task[] held = [.. _holds.Where(h => call.StartsWith(h.Prefix, StringComparison.Ordinal)).Select(h => h.Released)];
            return held.Length == 0 ? Task.CompletedTask : Task.WhenAll(held).WaitAsync(cancellationToken);
        }
    }

    public async Task<KubernetesList<EndpointSlice>> ListEndpointSlicesAsync(string ns, ListOptions options, CancellationToken cancellationToken)
    {
        await Record($"list slices {ns} {options.LabelSelector}", cancellationToken);
        return await inner.ListEndpointSlicesAsync(ns, options, cancellationToken);
    }

    public async Task<IWatchStream<EndpointSlice>> WatchEndpointSlicesAsync(string ns, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await Record($"watch slices {ns} {options.LabelSelector} @{resourceVersion}", cancellationToken);
        return await inner.WatchEndpointSlicesAsync(ns, options, resourceVersion, timeout, cancellationToken);
    }

    public async Task<KubernetesList<Service>> ListServicesAsync(string ns, ListOptions options, CancellationToken cancellationToken)
    {
        await Record($"list services {ns} {options.FieldSelector}", cancellationToken);
        return await inner.ListServicesAsync(ns, options, cancellationToken);
    }

    public async Task<IWatchStream<Service>> WatchServicesAsync(string ns, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken)
    {
        await Record($"watch services {ns} {options.FieldSelector} @{resourceVersion}", cancellationToken);
        return await inner.WatchServicesAsync(ns, options, resourceVersion, timeout, cancellationToken);
    }

    public async Task<Service?> GetServiceAsync(string ns, string name, CancellationToken cancellationToken)
    {
        await Record($"get service {ns} {name}", cancellationToken);
        return await inner.GetServiceAsync(ns, name, cancellationToken);
    }
}
