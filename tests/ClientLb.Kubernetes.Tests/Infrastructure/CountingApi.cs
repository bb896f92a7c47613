using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Model;

namespace ClientLb.Kubernetes.Tests.Infrastructure;

/// <summary>Wraps an API and counts lists and watches per selector, to prove watches are shared.</summary>
public sealed class CountingApi(IKubernetesApi inner) : IKubernetesApi
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

    private void Record(string call)
    {
        lock (_gate)
        {
            _calls.Add(call);
        }
    }

    public Task<KubernetesList<EndpointSlice>> ListEndpointSlicesAsync(string ns, ListOptions options, CancellationToken cancellationToken)
    {
        Record($"list slices {ns} {options.LabelSelector}");
        return inner.ListEndpointSlicesAsync(ns, options, cancellationToken);
    }

    public Task<IWatchStream<EndpointSlice>> WatchEndpointSlicesAsync(string ns, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Record($"watch slices {ns} {options.LabelSelector} @{resourceVersion}");
        return inner.WatchEndpointSlicesAsync(ns, options, resourceVersion, timeout, cancellationToken);
    }

    public Task<KubernetesList<Service>> ListServicesAsync(string ns, ListOptions options, CancellationToken cancellationToken)
    {
        Record($"list services {ns} {options.FieldSelector}");
        return inner.ListServicesAsync(ns, options, cancellationToken);
    }

    public Task<IWatchStream<Service>> WatchServicesAsync(string ns, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken)
    {
        Record($"watch services {ns} {options.FieldSelector} @{resourceVersion}");
        return inner.WatchServicesAsync(ns, options, resourceVersion, timeout, cancellationToken);
    }
}
