using ClientLb.Diagnostics;

namespace ClientLb.Balancing.Health;

// What passive health says to a picker build: endpoints joining and leaving, which candidates may be chosen (the panic
// threshold), and which slow-start windows still run. Everything here runs under the balancer's rebuild gate.
internal sealed partial class PassiveHealth
{
    /// <summary>A new endpoint joined: endpoints of the first answer start at full share; later arrivals ramp up (slow start).</summary>
    public void Joined(BalancedEndpoint joined, long now)
    {
        HealthSettings health = _settings;
        if (_resolvedOnce && health.SlowStartTicks > 0)
        {
            joined.StartWarming(now, health.SlowStartTicks);
        }
    }

    /// <summary>An endpoint left the eligible set: it no longer counts against the ejection share or as unhealthy.</summary>
    public void Left(BalancedEndpoint gone)
    {
        if (gone.IsEjected)
        {
            _ejectedCount--;
        }
        if (!gone.IsHealthy)
        {
            _unhealthyCount--;
        }
    }

    /// <summary>
    /// Counts again over a whole new eligible set (a full rebuild): with passive health turned off, ejected endpoints
    /// return at once.
    /// </summary>
    public void Recount(BalancedEndpoint[] eligible, long now)
    {
        HealthSettings health = _settings;
        int ejected = 0, unhealthy = 0;
        foreach (BalancedEndpoint endpoint in eligible)
        {
            if (!health.Enabled && endpoint.IsEjected)
            {
                Return(endpoint, now, health);
            }
            ejected += endpoint.IsEjected ? 1 : 0;
            unhealthy += endpoint.IsHealthy ? 0 : 1;
        }
        _ejectedCount = ejected;
        _unhealthyCount = unhealthy;
        _resolvedOnce = true;
    }

    /// <summary>
    /// The candidates the picker may choose from: the healthy ones, or all of them while too few are healthy (panic:
    /// below the threshold, overloading the few healthy ones would hurt more than trying the others).
    /// </summary>
    public BalancedEndpoint[] Usable(BalancedEndpoint[] candidates)
    {
        BalancedEndpoint[] healthy = _unhealthyCount == 0 ? candidates : [.. candidates.Where(static e => e.IsHealthy)];
        bool panic = healthy.Length == 0 || healthy.Length < _settings.PanicThreshold * candidates.Length;
        if (panic != _inPanic)
        {
            if (panic)
            {
                Log.PanicEntered(_logger, _serviceId, healthy.Length, candidates.Length);
                _metrics?.Panicked(_serviceId);
            }
            else
            {
                Log.PanicLeft(_logger, _serviceId, healthy.Length, candidates.Length);
            }
            Volatile.Write(ref _inPanic, panic);
        }
        return panic ? candidates : healthy;
    }

    /// <summary>
    /// Ends the slow-start windows of <paramref name="eligible"/> that are over and returns whether one still runs;
    /// <paramref name="deadline"/> is when the next ejection or window ends.
    /// </summary>
    public bool ScanTimers(BalancedEndpoint[] eligible, long now, out long deadline)
    {
        deadline = long.MaxValue;
        bool warming = false;
        foreach (BalancedEndpoint endpoint in eligible)
        {
            long until = endpoint.EjectedUntil;
            if (until != 0)
            {
                deadline = Math.Min(deadline, until);
            }
            long warmEnd = endpoint.WarmEnd;
            if (warmEnd != 0)
            {
                if (now >= warmEnd)
                {
                    endpoint.EndWarming();
                }
                else
                {
                    warming = true;
                    deadline = Math.Min(deadline, warmEnd);
                }
            }
        }
        return warming;
    }

    /// <summary>
    /// Whether one of <paramref name="joining"/> starts a slow-start window, moving <paramref name="deadline"/> to its end:
    /// after a change, only the endpoints that just joined can add one.
    /// </summary>
    public static bool AnyWarming(List<BalancedEndpoint>? joining, ref long deadline)
    {
        bool warming = false;
        foreach (BalancedEndpoint joined in joining ?? [])
        {
            long warmEnd = joined.WarmEnd;
            if (warmEnd != 0)
            {
                warming = true;
                deadline = Math.Min(deadline, warmEnd);
            }
        }
        return warming;
    }
}
