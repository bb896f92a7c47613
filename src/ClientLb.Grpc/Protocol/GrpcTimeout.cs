using System.Globalization;

namespace ClientLb.Grpc.Protocol;

/// <summary>The <c>grpc-timeout</c> header: at most 8 digits and a unit (H, M, S, m, u, n), e.g. <c>250m</c>.</summary>
public static class GrpcTimeout
{
    /// <summary>The header name.</summary>
    public const string HeaderName = "grpc-timeout";

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
    /// Formats <paramref name="timeout"/> in milliseconds (microseconds below one; coarser units past 8 digits), rounding up so a remaining deadline is
    /// never sent as zero. Negative or zero values become <c>1n</c> (the deadline has passed; the server fails the call).
    /// </summary>
    public static string Format(TimeSpan timeout)
    {
        long ticks = timeout.Ticks;
        if (ticks <= 0)
        {
            return "1n";
        }
        if (ticks < TimeSpan.TicksPerMillisecond)
        {
            return Ceiling(ticks, 10).ToString(CultureInfo.InvariantCulture) + "u";
        }
        foreach ((long unitTicks, char unit) in Units)
        {
            long value = Ceiling(ticks, unitTicks);
            if (value <= MaxValue)
            {
                return value.ToString(CultureInfo.InvariantCulture) + unit;
            }
        }
        return MaxValue.ToString(CultureInfo.InvariantCulture) + "H";
    }

    private static readonly (long Ticks, char Unit)[] Units =
    [
        (TimeSpan.TicksPerMillisecond, 'm'), (TimeSpan.TicksPerSecond, 'S'), (TimeSpan.TicksPerMinute, 'M'), (TimeSpan.TicksPerHour, 'H'),
    ];

    private static long Ceiling(long ticks, long unit) => (ticks + unit - 1) / unit;
}
