using ClientLb.Dns.Configuration;

namespace ClientLb.Dns.Source;

/// <summary>When to refresh next: the TTL within the configured bounds, or exponential backoff after failures.</summary>
internal sealed class DnsRefreshPolicy(DnsSourceOptions options)
{
    /// <summary>The TTL (seconds) clamped to [min, max]; no TTL means the minimum.</summary>
    public TimeSpan AfterAnswer(uint? ttlSeconds)
    {
        TimeSpan ttl = ttlSeconds is uint s ? TimeSpan.FromSeconds(s) : options.MinRefreshInterval;
        return ttl < options.MinRefreshInterval ? options.MinRefreshInterval : ttl > options.MaxRefreshInterval ? options.MaxRefreshInterval : ttl;
    }

    /// <summary>
    /// The wait after <paramref name="consecutiveFailures"/> failures: initial × 2^(n-1) up to the maximum, less up to 20%
    /// jitter so that many clients failing together do not retry together.
    /// </summary>
    public TimeSpan AfterFailure(int consecutiveFailures)
    {
        int exponent = Math.Clamp(consecutiveFailures - 1, 0, 30);
        double ticks = Math.Min(options.FailureBackoffInitial.Ticks * Math.Pow(2, exponent), options.FailureBackoffMax.Ticks);
        return TimeSpan.FromTicks((long)(ticks * (1 - Random.Shared.NextDouble() * 0.2)));
    }
}
