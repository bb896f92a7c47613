using System.Globalization;

namespace ClientLb.Grpc.Balancing;

/// <summary>
/// The call's deadline as Grpc.Net.Client sends it to the handler, <c>grpc-timeout</c> (1-8 digits and a unit of H, M,
/// S, m, u, n): read to bound connects and retries by what is left, and rewritten for a retry so the next server gets
/// what is left. (grpc-dotnet's own encoder is internal; the handler sees only the HTTP request.)
/// </summary>
internal static class DeadlineHeader
{
    public const string Name = "grpc-timeout";

    private const long MaxValue = 99_999_999;

    /// <summary>Parses a header value; false when it is not 1-8 digits followed by one unit.</summary>
    public static bool TryParse(string? text, out TimeSpan timeout)
    {
        timeout = default;
        if (text is null || text.Length is < 2 or > 9 ||
            !long.TryParse(text.AsSpan(0, text.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out long value))
        {
            return false;
        }
        long? ticks = text[^1] switch
        {
            'H' => value * TimeSpan.TicksPerHour,
            'M' => value * TimeSpan.TicksPerMinute,
            'S' => value * TimeSpan.TicksPerSecond,
            'm' => value * TimeSpan.TicksPerMillisecond,
            'u' => value * 10,
            'n' => value / 100,
            _ => null,
        };
        if (ticks is not long t)
        {
            return false;
        }
        timeout = TimeSpan.FromTicks(t);
        return true;
    }

    /// <summary>
    /// What is left of a deadline, in milliseconds as Grpc.Net.Client sends it (seconds past 8 digits), rounded up so it is
    /// never sent as zero; a deadline that has passed becomes <c>1m</c> (the server fails the call at once).
    /// </summary>
    public static string Format(TimeSpan left)
    {
        long milliseconds = Math.Max(1, (left.Ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond);
        return milliseconds <= MaxValue
            ? milliseconds.ToString(CultureInfo.InvariantCulture) + "m"
            : Math.Min(MaxValue, (milliseconds + 999) / 1000).ToString(CultureInfo.InvariantCulture) + "S";
    }
}
