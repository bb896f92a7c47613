using System.Diagnostics;
using System.Diagnostics.Metrics;
using ClientLb.LoadBalancing;

namespace ClientLb.Diagnostics;

/// <summary>
/// The <c>ClientLb</c> meter: picks per endpoint, failures, retries, and endpoints per service.
/// Every instrument checks <c>Enabled</c> first so an unobserved process pays nothing.
/// </summary>
public sealed class ClientLbMetrics : IDisposable
{
    /// <summary>The meter name.</summary>
    public const string MeterName = "ClientLb";

    private readonly Meter _meter;
    private readonly Counter<long> _picks;
    private readonly Counter<long> _failures;
    private readonly Counter<long> _retries;
    private Func<IEnumerable<Measurement<int>>>? _endpointsObserver;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/> (or a standalone meter).</summary>
    public ClientLbMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _picks = _meter.CreateCounter<long>("clientlb.picks", "{pick}", "Endpoints picked for requests, by service and endpoint.");
        _failures = _meter.CreateCounter<long>("clientlb.failures", "{failure}", "Failed attempts, by service, endpoint and reason.");
        _retries = _meter.CreateCounter<long>("clientlb.retries", "{retry}", "Attempts retried on another endpoint, by service.");
        _meter.CreateObservableGauge("clientlb.endpoints", () => _endpointsObserver?.Invoke() ?? [], "{endpoint}",
            "Endpoints per service, by state (eligible: may receive traffic; known: in the source's snapshot).");
    }

    internal void ObserveEndpoints(Func<IEnumerable<Measurement<int>>> observer) => _endpointsObserver = observer;

    /// <summary>Records a pick.</summary>
    public void Picked(BalancedEndpoint endpoint)
    {
        if (_picks.Enabled)
        {
            _picks.Add(1, new TagList { { "clientlb.service", endpoint.ServiceId }, { "clientlb.endpoint", endpoint.Endpoint.Authority } });
        }
    }

    /// <summary>Records a failed attempt.</summary>
    public void Failed(BalancedEndpoint endpoint, string reason)
    {
        if (_failures.Enabled)
        {
            _failures.Add(1, new TagList { { "clientlb.service", endpoint.ServiceId }, { "clientlb.endpoint", endpoint.Endpoint.Authority }, { "clientlb.reason", reason } });
        }
    }

    /// <summary>Records a retry.</summary>
    public void Retried(string serviceId)
    {
        if (_retries.Enabled)
        {
            _retries.Add(1, new KeyValuePair<string, object?>("clientlb.service", serviceId));
        }
    }

    /// <inheritdoc />
    public void Dispose() => _meter.Dispose();
}
