using System.Diagnostics;
using System.Diagnostics.Metrics;
using ClientLb.Balancing;

namespace ClientLb.Diagnostics;

/// <summary>
/// The <c>ClientLb</c> meter: picks per endpoint, failures, retries, retry-budget refusals, hedges, ejections, panics,
/// attempt durations, per-endpoint outstanding requests, latency estimates and ejection state, and endpoints per service.
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
    private readonly Counter<long> _budgetExhausted;
    private readonly Counter<long> _hedges;
    private readonly Counter<long> _ejections;
    private readonly Counter<long> _returns;
    private readonly Counter<long> _panics;
    private readonly Histogram<double> _duration;
    private Func<IEnumerable<Measurement<int>>>? _endpointsObserver;
    private Func<IEnumerable<IMeteredEndpoint>>? _endpointStates;
    private TimeProvider _time = TimeProvider.System;

    /// <summary>Creates the instruments on a meter from <paramref name="meterFactory"/> (or a standalone meter).</summary>
    public ClientLbMetrics(IMeterFactory? meterFactory = null)
    {
        _meter = meterFactory?.Create(MeterName) ?? new Meter(MeterName);
        _picks = _meter.CreateCounter<long>("clientlb.picks", "{pick}", "Endpoints picked for requests, by service and endpoint.");
        _failures = _meter.CreateCounter<long>("clientlb.failures", "{failure}", "Failed attempts, by service, endpoint and reason.");
        _retries = _meter.CreateCounter<long>("clientlb.retries", "{retry}", "Attempts retried on another endpoint, by service.");
        _budgetExhausted = _meter.CreateCounter<long>("clientlb.retry_budget.exhausted", "{retry}", "Retries or hedges not made because the service's retry budget was spent, by service.");
        _hedges = _meter.CreateCounter<long>("clientlb.hedges", "{attempt}", "Hedged attempts sent, by service.");
        _ejections = _meter.CreateCounter<long>("clientlb.ejections", "{ejection}", "Endpoints ejected by passive health, by service, endpoint and reason.");
        _returns = _meter.CreateCounter<long>("clientlb.ejection_returns", "{return}", "Ejected endpoints returned to rotation, by service and endpoint.");
        _panics = _meter.CreateCounter<long>("clientlb.panics", "{panic}", "Times a service entered panic (too few healthy endpoints: all are used), by service.");
        _duration = _meter.CreateHistogram<double>("clientlb.attempt.duration", "s", "Time from sending an attempt to its response headers, by service and endpoint.");
        _meter.CreateObservableGauge("clientlb.endpoint.outstanding", () => ObserveEndpointStates(static (e, _) => e.Outstanding), "{request}",
            "Requests in flight per endpoint.");
        _meter.CreateObservableGauge("clientlb.endpoint.latency", () => ObserveLatency(), "s",
            "Peak-EWMA latency estimate per endpoint (endpoints that have answered).");
        _meter.CreateObservableGauge("clientlb.endpoint.ejected", () => ObserveEndpointStates(static (e, _) => e.IsEjected ? 1 : 0), "{endpoint}",
            "1 while passive health keeps the endpoint out of rotation.");
        _meter.CreateObservableGauge("clientlb.endpoints", () => _endpointsObserver?.Invoke() ?? [], "{endpoint}",
            "Endpoints per service, by state (eligible: may receive traffic; known: in the source's snapshot).");
    }

    /// <summary>The meter the instruments live on: a <c>MeterListener</c> matches on it to follow this registry's instruments only.</summary>
    public Meter Meter => _meter;

    internal void ObserveEndpoints(Func<IEnumerable<Measurement<int>>> observer) => _endpointsObserver = observer;

    internal void ObserveEndpointStates(Func<IEnumerable<IMeteredEndpoint>> endpoints, TimeProvider time)
    {
        _endpointStates = endpoints;
        _time = time;
    }

    private IEnumerable<Measurement<int>> ObserveEndpointStates(Func<IMeteredEndpoint, TimeProvider, int> value)
    {
        foreach (IMeteredEndpoint e in _endpointStates?.Invoke() ?? [])
        {
            yield return new Measurement<int>(value(e, _time), Tags(e));
        }
    }

    private IEnumerable<Measurement<double>> ObserveLatency()
    {
        foreach (IMeteredEndpoint e in _endpointStates?.Invoke() ?? [])
        {
            if (e.Latency(_time) is TimeSpan latency)
            {
                yield return new Measurement<double>(latency.TotalSeconds, Tags(e));
            }
        }
    }

    private static TagList Tags(IMeteredEndpoint endpoint) => new() { { "clientlb.service", endpoint.ServiceId }, { "clientlb.endpoint", endpoint.Authority } };

    /// <summary>Records how long an attempt took to its response headers.</summary>
    public void AttemptDuration(IMeteredEndpoint endpoint, double seconds)
    {
        if (_duration.Enabled)
        {
            _duration.Record(seconds, Tags(endpoint));
        }
    }

    /// <summary>Records a retry or hedge refused by the retry budget.</summary>
    public void BudgetExhausted(string serviceId)
    {
        if (_budgetExhausted.Enabled)
        {
            _budgetExhausted.Add(1, new KeyValuePair<string, object?>("clientlb.service", serviceId));
        }
    }

    /// <summary>Records a hedged attempt.</summary>
    public void Hedged(string serviceId)
    {
        if (_hedges.Enabled)
        {
            _hedges.Add(1, new KeyValuePair<string, object?>("clientlb.service", serviceId));
        }
    }

    /// <summary>Records an ejection.</summary>
    public void Ejected(IMeteredEndpoint endpoint, string reason)
    {
        if (_ejections.Enabled)
        {
            TagList tags = Tags(endpoint);
            tags.Add("clientlb.reason", reason);
            _ejections.Add(1, tags);
        }
    }

    /// <summary>Records an ejected endpoint's return.</summary>
    public void Returned(IMeteredEndpoint endpoint)
    {
        if (_returns.Enabled)
        {
            _returns.Add(1, Tags(endpoint));
        }
    }

    /// <summary>Records a service entering panic.</summary>
    public void Panicked(string serviceId)
    {
        if (_panics.Enabled)
        {
            _panics.Add(1, new KeyValuePair<string, object?>("clientlb.service", serviceId));
        }
    }

    /// <summary>Records a pick.</summary>
    public void Picked(IMeteredEndpoint endpoint)
    {
        if (_picks.Enabled)
        {
            _picks.Add(1, new TagList { { "clientlb.service", endpoint.ServiceId }, { "clientlb.endpoint", endpoint.Authority } });
        }
    }

    /// <summary>Records a failed attempt.</summary>
    public void Failed(IMeteredEndpoint endpoint, string reason)
    {
        if (_failures.Enabled)
        {
            _failures.Add(1, new TagList { { "clientlb.service", endpoint.ServiceId }, { "clientlb.endpoint", endpoint.Authority }, { "clientlb.reason", reason } });
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
