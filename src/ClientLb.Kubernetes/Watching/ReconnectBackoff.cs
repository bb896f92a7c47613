namespace ClientLb.Kubernetes.Watching;

/// <summary>
/// The wait before a list+watch loop asks the API server again: exponential from the first delay up to the maximum,
/// with jitter (so many clients do not come back together), never shorter than a clamped Retry-After, and reset only
/// once the loop has been healthy for a while, so a server that accepts and fails every request at once still gets at
/// most a request per maximum delay.
/// </summary>
internal sealed class ReconnectBackoff(TimeSpan first, TimeSpan max, Func<double>? random = null)
{
    private readonly Func<double> _random = random ?? Random.Shared.NextDouble;
    private int _failures;

    /// <summary>How many failures in a row this backoff has counted since its last reset.</summary>
    public int Failures => _failures;

    /// <summary>The wait after one more failure; <paramref name="retryAfter"/> (the server's Retry-After) is clamped to [0, max].</summary>
    public TimeSpan Next(TimeSpan? retryAfter = null)
    {
        _failures++;
        // 2^(failures-1) times the first delay, without overflowing for a loop that has failed for days.
        double factor = Math.Pow(2, Math.Min(_failures - 1, 30));
        TimeSpan exponential = Min(TimeSpan.FromTicks((long)Math.Min(first.Ticks * factor, max.Ticks)), max);
        // Jitter takes up to a fifth off, never below the first delay.
        TimeSpan jittered = Max(exponential - exponential * (0.2 * _random()), Min(first, max));
        TimeSpan server = retryAfter is TimeSpan after ? Clamp(after, max) : TimeSpan.Zero;
        return Max(jittered, server);
    }

    /// <summary>Back to the first delay (after a healthy period).</summary>
    public void Reset() => _failures = 0;

    /// <summary><paramref name="value"/> within [0, <paramref name="max"/>]: a Retry-After of years or a negative one is harmless.</summary>
    public static TimeSpan Clamp(TimeSpan value, TimeSpan max) => value < TimeSpan.Zero ? TimeSpan.Zero : Min(value, max);

    private static TimeSpan Min(TimeSpan a, TimeSpan b) => a < b ? a : b;

    private static TimeSpan Max(TimeSpan a, TimeSpan b) => a > b ? a : b;
}
