using ClientLb.Balancing;
using ClientLb.Diagnostics;
using Microsoft.Extensions.Logging;

namespace ClientLb.Balancing.Health;

/// <summary>
/// Passive health of one service's endpoints: failures in a row eject an endpoint (exponentially longer each time, at most
/// <see cref="HealthOptions.MaxEjectedShare"/> of them at once), ejections end when due or when a probe answers, active
/// health checks' verdicts keep an endpoint out the same way, the panic threshold uses every endpoint when too few are
/// healthy, and slow start ramps up endpoints that join or return. It owns the counts of ejected and unhealthy endpoints
/// and the next deadline; the balancer's picker builder asks it which endpoints may be chosen.
/// </summary>
internal sealed partial class PassiveHealth
{
    private readonly string _serviceId;
    private readonly Lock _gate;
    private readonly IPassiveHealthHost _host;
    private readonly ILogger _logger;
    private readonly ClientLbMetrics? _metrics;
    private readonly TimeProvider _time;
    private HealthSettings _settings;
    // The earliest ejection or slow-start window end; read lock-free on the request path.
    private long _deadline = long.MaxValue;
    private bool _inPanic;
    // Written under the gate.
    private int _ejectedCount;
    // Eligible endpoints the picker must skip (ejected or failing active health checks); zero allows the fast picker.
    private int _unhealthyCount;
    private bool _resolvedOnce;

    public PassiveHealth(string serviceId, Lock gate, IPassiveHealthHost host, ILogger logger, ClientLbMetrics? metrics, TimeProvider time, ServiceOptions options)
    {
        _serviceId = serviceId;
        _gate = gate;
        _host = host;
        _logger = logger;
        _metrics = metrics;
        _time = time;
        _settings = HealthSettings.From(options, time);
    }

    /// <summary>Reads the service's health options (on each full rebuild).</summary>
    public void Configure(ServiceOptions options) => Volatile.Write(ref _settings, HealthSettings.From(options, _time));

    /// <summary>Ejected endpoints among the eligible ones.</summary>
    public int Ejected => _ejectedCount;

    /// <summary>Eligible endpoints that may not be chosen now (ejected or failing active health checks).</summary>
    public int Unhealthy => _unhealthyCount;

    /// <summary>True while too few endpoints are healthy and every candidate is used regardless.</summary>
    public bool InPanic => Volatile.Read(ref _inPanic);

    /// <summary>When the next ejection or slow-start window ends (timestamp); <see cref="long.MaxValue"/> for never.</summary>
    public long Deadline
    {
        get => Volatile.Read(ref _deadline);
        set => Volatile.Write(ref _deadline, value);
    }

    /// <summary>
    /// Marks the start of an attempt at <paramref name="now"/> and returns it. Ejections and slow-start windows end here,
    /// on the request path, when their deadline has passed: no timers, and one comparison when nothing is due.
    /// </summary>
    public long OnAttemptStart(long now)
    {
        if (now >= Volatile.Read(ref _deadline))
        {
            OnDeadline(now);
        }
        return now;
    }

    /// <summary>
    /// Records an attempt's outcome: latency for PeakEwma, and failures in a row for passive health. The clock is read
    /// only for a latency or an ejection: an untimed success (a grpc-dotnet call tracker's) costs no clock read.
    /// </summary>
    public void OnAttemptEnd(BalancedEndpoint endpoint, long start, AttemptOutcome outcome)
    {
        HealthSettings health = Volatile.Read(ref _settings);
        if (outcome is AttemptOutcome.Answered or AttemptOutcome.ServerUnavailable && start >= 0)
        {
            long now = _time.GetTimestamp();
            // Only answers carry latency: a refused connection fails fast and must not look like a fast endpoint.
            endpoint.RecordLatency(now, now - start, health.DecayTicks);
            _metrics?.AttemptDuration(endpoint, (double)(now - start) / _time.TimestampFrequency);
        }
        // The caller's own cancellation never gets here (see AttemptFailure); a closed pool means the endpoint left.
        if (!health.Enabled || outcome == AttemptOutcome.EndpointLeft)
        {
            return;
        }
        if (outcome is AttemptOutcome.ConnectionFailed or AttemptOutcome.TransportFailed)
        {
            if (health.ConnectionFailures > 0 && endpoint.CountConnectionFailure() >= health.ConnectionFailures)
            {
                TryEject(endpoint, _time.GetTimestamp(), health, "connection_failures");
            }
        }
        else if (outcome == AttemptOutcome.ServerUnavailable)
        {
            if (health.ServerErrors > 0 && endpoint.CountServerError() >= health.ServerErrors)
            {
                TryEject(endpoint, _time.GetTimestamp(), health, "server_errors");
            }
        }
        else
        {
            endpoint.CountSuccess();
        }
    }

    /// <summary>Ejects <paramref name="endpoint"/> for <paramref name="reason"/> unless it is out already or the share of ejected endpoints is used up.</summary>
    public void TryEject(BalancedEndpoint endpoint, long now, HealthSettings health, string reason)
    {
        lock (_gate)
        {
            BalancedEndpoint[] eligible = _host.Eligible;
            if (endpoint.IsEjected || endpoint.IsRetired || !SlotArrays.Contains(eligible, endpoint))
            {
                return;
            }
            int ejected = _ejectedCount;
            int allowed = health.MaxEjectedShare <= 0 ? 0 : Math.Max(1, (int)(health.MaxEjectedShare * eligible.Length));
            if (ejected >= allowed)
            {
                Log.EjectionLimited(_logger, _serviceId, endpoint.Endpoint.Authority, reason, ejected, eligible.Length);
                return;
            }
            // An endpoint healthy for longer than the longest ejection since its last return starts over at the base time.
            if (endpoint.Ejections > 0 && now - endpoint.ReturnedAt > health.MaxEjectionTicks)
            {
                endpoint.Ejections = 0;
            }
            endpoint.Ejections++;
            double ticks = Math.Min(health.BaseEjectionTicks * Math.Pow(2, endpoint.Ejections - 1), health.MaxEjectionTicks);
            bool wasHealthy = endpoint.IsHealthy;
            endpoint.EjectionReason = reason;
            endpoint.Eject(now + (long)ticks);
            _ejectedCount++;
            _unhealthyCount += wasHealthy ? 1 : 0;
            TimeSpan duration = TimeSpan.FromSeconds(ticks / _time.TimestampFrequency);
            Log.EndpointEjected(_logger, _serviceId, endpoint.Endpoint.Authority, reason, duration, endpoint.Ejections);
            _metrics?.Ejected(endpoint, reason);
            _host.RebuildPicker(now);
            StartProbing(endpoint, health, reason);
        }
    }

    /// <summary>
    /// Records an active health check's verdict for <paramref name="endpoint"/>. An endpoint that does not serve leaves the
    /// picker as an ejected one does (the panic threshold still applies); a serving one returns. A change rebuilds the picker.
    /// </summary>
    /// <returns>Whether the verdict changed.</returns>
    public bool ReportHealthCheck(BalancedEndpoint endpoint, bool serving)
    {
        lock (_gate)
        {
            bool wasHealthy = endpoint.IsHealthy;
            if (!endpoint.SetFailingHealthChecks(!serving))
            {
                return false;
            }
            if (SlotArrays.Contains(_host.Eligible, endpoint))
            {
                _unhealthyCount += (wasHealthy ? 1 : 0) - (endpoint.IsHealthy ? 1 : 0);
                _host.RebuildPicker(_time.GetTimestamp());
            }
            return true;
        }
    }

    private void OnDeadline(long now)
    {
        lock (_gate)
        {
            if (now < _deadline)
            {
                return;
            }
            HealthSettings health = _settings;
            foreach (BalancedEndpoint endpoint in _host.Eligible)
            {
                long until = endpoint.EjectedUntil;
                if (until != 0 && until <= now)
                {
                    Return(endpoint, now, health);
                }
            }
            _host.RebuildPicker(now);
        }
    }

    private void Return(BalancedEndpoint endpoint, long now, HealthSettings health)
    {
        endpoint.Return(now);
        _ejectedCount--;
        _unhealthyCount -= endpoint.IsHealthy ? 1 : 0;
        if (health.SlowStartTicks > 0)
        {
            endpoint.StartWarming(now, health.SlowStartTicks);
        }
        Log.EndpointReturned(_logger, _serviceId, endpoint.Endpoint.Authority);
        _metrics?.Returned(endpoint);
    }
}
