using System.Diagnostics.Metrics;

namespace ClientLb.Kubernetes.Diagnostics;

/// <summary>
/// The <c>ClientLb.Kubernetes</c> meter: staleness per service, watch restarts, re-lists, failures and open watch scopes.
/// </summary>
public sealed class KubernetesMetrics : IDisposable
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "ClientLb.Kubernetes";

    private readonly Meter _meter;
    private readonly Counter<long> _restarts;
    private readonly Counter<long> _relists;
    private readonly Counter<long> _failures;
    private readonly Counter<long> _poison;
    private Func<IEnumerable<Measurement<double>>>? _staleness;
    private Func<int>? _scopes;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/> (or a standalone meter).</summary>
    public KubernetesMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _restarts = _meter.CreateCounter<long>("clientlb.kubernetes.watch.restarts", "{restart}", "Watches renewed, by resource and reason (ended, broken, expired).");
        _relists = _meter.CreateCounter<long>("clientlb.kubernetes.relists", "{list}", "Full lists, by resource and reason (initial, expired, resync).");
        _failures = _meter.CreateCounter<long>("clientlb.kubernetes.watch.failures", "{failure}", "Failed lists or watches, by resource.");
        _poison = _meter.CreateCounter<long>("clientlb.kubernetes.objects.skipped", "{object}",
            "Objects skipped because they cannot be used (nulls or wrong JSON types where the API never sends them), by resource.");
        _meter.CreateObservableGauge("clientlb.kubernetes.staleness", () => _staleness?.Invoke() ?? [], "s",
            "How long each watched service's endpoints have gone without reaching the API server (0 when current).");
        _meter.CreateObservableUpDownCounter("clientlb.kubernetes.watch.scopes", () => _scopes?.Invoke() ?? 0, "{scope}",
            "Open watch scopes (one per watched service, or one per namespace above the threshold).");
    }

    /// <summary>The meter (tests listen to this instance only).</summary>
    internal Meter Meter => _meter;

    internal void Observe(Func<IEnumerable<Measurement<double>>> staleness, Func<int> scopes)
    {
        _staleness = staleness;
        _scopes = scopes;
    }

    internal void WatchRestarted(string what, string reason)
    {
        if (_restarts.Enabled)
        {
            _restarts.Add(1, new KeyValuePair<string, object?>("clientlb.kubernetes.watch", what), new KeyValuePair<string, object?>("clientlb.kubernetes.reason", reason));
        }
    }

    internal void Relisted(string what, string reason)
    {
        if (_relists.Enabled)
        {
            _relists.Add(1, new KeyValuePair<string, object?>("clientlb.kubernetes.watch", what), new KeyValuePair<string, object?>("clientlb.kubernetes.reason", reason));
        }
    }

    internal void WatchFailed(string what)
    {
        if (_failures.Enabled)
        {
            _failures.Add(1, new KeyValuePair<string, object?>("clientlb.kubernetes.watch", what));
        }
    }

    internal void PoisonSkipped(string what)
    {
        if (_poison.Enabled)
        {
            _poison.Add(1, new KeyValuePair<string, object?>("clientlb.kubernetes.watch", what));
        }
    }

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();
}
