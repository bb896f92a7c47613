namespace ClientLb.Balancing.Health;

/// <summary>Passive-health and latency parameters in timestamp ticks, computed once per rebuild.</summary>
internal sealed record HealthSettings(bool Enabled, int ConnectionFailures, int ServerErrors, double BaseEjectionTicks, double MaxEjectionTicks,
    double MaxEjectedShare, double PanicThreshold, long SlowStartTicks, double DecayTicks, TimeSpan ProbeInterval, TimeSpan ProbeTimeout)
{
    public static HealthSettings From(ServiceOptions options, TimeProvider time)
    {
        HealthOptions h = options.Health;
        double f = time.TimestampFrequency;
        return SharedSettings.Share(ref _last, new HealthSettings(h.Enabled, h.ConsecutiveConnectionFailures, h.ConsecutiveServerErrors, h.BaseEjectionTime.TotalSeconds * f,
            h.MaxEjectionTime.TotalSeconds * f, h.MaxEjectedShare, h.PanicThreshold, (long)(h.SlowStartWindow.TotalSeconds * f),
            options.PeakEwma.DecayTime.TotalSeconds * f, h.ProbeInterval, h.ProbeTimeout));
    }

    private static HealthSettings? _last;
}

/// <summary>What passive health needs from the balancer it serves.</summary>
internal interface IPassiveHealthHost
{
    /// <summary>The eligible endpoints now (read under the rebuild gate).</summary>
    BalancedEndpoint[] Eligible { get; }

    /// <summary>Builds and swaps in a new picker after an endpoint left or returned to rotation (under the rebuild gate).</summary>
    void RebuildPicker(long now);

    /// <summary>Cancelled when the balancer is disposed; probes stop with it.</summary>
    CancellationToken Stopped { get; }
}
