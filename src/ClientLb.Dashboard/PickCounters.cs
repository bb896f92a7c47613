using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using ClientLb.Diagnostics;

namespace ClientLb.Dashboard;

/// <summary>
/// Counts picks per (service, endpoint) from the registry's own <c>clientlb.picks</c> instrument, through a
/// <see cref="MeterListener"/> that matches that registry's meter only. Nothing is added to the pick path while no
/// dashboard is mapped; once one is, each pick costs what any metrics listener on that counter costs (two dictionary
/// lookups and an interlocked increment). Rates are sampled by <see cref="Sample"/>, once per refresh interval; counters of endpoints that left are dropped by <see cref="Prune"/>.
/// </summary>
internal sealed class PickCounters : IDisposable
{
    private readonly MeterListener _listener = new();
    private readonly ConcurrentDictionary<string, ConcurrentDictionary<string, PickCount>> _byService = new(StringComparer.Ordinal);
    // Per service, the sums of its endpoints as of the last sample (the list of services reads these: no per-endpoint pass).
    private volatile Dictionary<string, (long Total, double PerSecond)> _serviceTotals = new(StringComparer.Ordinal);
    private long _lastSample;
    private readonly TimeProvider _time;

    public PickCounters(ClientLbMetrics metrics, TimeProvider time)
    {
        _time = time;
        _lastSample = time.GetTimestamp();
        Meter meter = metrics.Meter;
        _listener.InstrumentPublished = (instrument, listener) =>
        {
            if (ReferenceEquals(instrument.Meter, meter) && instrument.Name == "clientlb.picks")
            {
                listener.EnableMeasurementEvents(instrument, this);
            }
        };
        _listener.SetMeasurementEventCallback<long>(static (_, value, tags, state) => ((PickCounters)state!).Record(value, tags));
        _listener.Start();
    }

    private void Record(long value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
    {
        string? service = null, endpoint = null;
        foreach (KeyValuePair<string, object?> tag in tags)
        {
            if (tag.Key == "clientlb.service")
            {
                service = tag.Value as string;
            }
            else if (tag.Key == "clientlb.endpoint")
            {
                endpoint = tag.Value as string;
            }
        }
        if (service is null || endpoint is null)
        {
            return;
        }
        if (!_byService.TryGetValue(service, out ConcurrentDictionary<string, PickCount>? endpoints))
        {
            endpoints = _byService.GetOrAdd(service, static _ => new ConcurrentDictionary<string, PickCount>(StringComparer.Ordinal));
        }
        if (!endpoints.TryGetValue(endpoint, out PickCount? count))
        {
            count = endpoints.GetOrAdd(endpoint, static _ => new PickCount());
        }
        Interlocked.Add(ref count.Total, value);
    }

    /// <summary>The picks of one endpoint since the dashboard was mapped, and its rate over the last interval.</summary>
    public (long Total, double PerSecond) Get(string serviceId, string authority)
    {
        if (_byService.TryGetValue(serviceId, out ConcurrentDictionary<string, PickCount>? endpoints) && endpoints.TryGetValue(authority, out PickCount? count))
        {
            return (Volatile.Read(ref count.Total), Volatile.Read(ref count.PerSecond));
        }
        return (0, 0);
    }

    /// <summary>A service's picks as of the last sample, summed over its endpoints, and their rate.</summary>
    public (long Total, double PerSecond) ForService(string serviceId) =>
        _serviceTotals.TryGetValue(serviceId, out (long Total, double PerSecond) totals) ? totals : (0, 0);

    /// <summary>Turns the counts since the last call into rates, per endpoint and per service.</summary>
    public void Sample()
    {
        long now = _time.GetTimestamp();
        double seconds = _time.GetElapsedTime(_lastSample, now).TotalSeconds;
        _lastSample = now;
        var totals = new Dictionary<string, (long Total, double PerSecond)>(_byService.Count, StringComparer.Ordinal);
        foreach ((string service, ConcurrentDictionary<string, PickCount> endpoints) in _byService)
        {
            long serviceTotal = 0;
            double serviceRate = 0;
            foreach (PickCount count in endpoints.Values)
            {
                long total = Volatile.Read(ref count.Total);
                double rate = seconds > 0 ? (total - count.LastTotal) / seconds : 0;
                Volatile.Write(ref count.PerSecond, rate);
                count.LastTotal = total;
                serviceTotal += total;
                serviceRate += rate;
            }
            totals[service] = (serviceTotal, serviceRate);
        }
        _serviceTotals = totals;
    }

    /// <summary>
    /// Forgets the counters of endpoints that are no longer in <paramref name="live"/> (service id to its endpoints'
    /// authorities), so a long-running app with endpoint churn keeps no dead counters.
    /// </summary>
    public void Prune(IReadOnlyDictionary<string, HashSet<string>> live)
    {
        foreach ((string service, ConcurrentDictionary<string, PickCount> endpoints) in _byService)
        {
            if (!live.TryGetValue(service, out HashSet<string>? authorities))
            {
                _byService.TryRemove(service, out _);
                continue;
            }
            foreach (string authority in endpoints.Keys)
            {
                if (!authorities.Contains(authority))
                {
                    endpoints.TryRemove(authority, out _);
                }
            }
        }
    }

    public void Dispose() => _listener.Dispose();

    private sealed class PickCount
    {
        public long Total;
        public long LastTotal;
        public double PerSecond;
    }
}
