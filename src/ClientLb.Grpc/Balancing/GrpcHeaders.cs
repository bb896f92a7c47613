using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Grpc.Core;

namespace ClientLb.Grpc.Balancing;

/// <summary>
/// The two gRPC headers the handler reads: <c>grpc-status</c> (whether the call is over before its body, and whether it
/// ended UNAVAILABLE; everything else about statuses is grpc-dotnet's, the response passes to it untouched) and
/// <c>grpc-timeout</c> (1-8 digits and a unit of H, M, S, m, u, n: the call's deadline as Grpc.Net.Client sends it, read
/// to bound connects and retries, and rewritten for a retry so the next server gets what is left; grpc-dotnet's own
/// encoder is internal). Both are read without validation or allocation.
/// </summary>
internal static class GrpcHeaders
{
    public const string Timeout = "grpc-timeout";
    private const string Status = "grpc-status";
    private const long MaxTimeoutValue = 99_999_999;

    /// <summary>The status a response's headers end the call with, or null when the status will come in the trailers.</summary>
    public static StatusCode? StatusOfHeaders(HttpResponseMessage response) => response.StatusCode == HttpStatusCode.OK
        ? StatusOf(response.Headers)
        // gRPC's HTTP mapping: 429, 502, 503 and 504 are UNAVAILABLE; grpc-dotnet maps the others for the caller.
        : (int)response.StatusCode is 429 or 502 or 503 or 504 ? StatusCode.Unavailable : StatusCode.Unknown;

    /// <summary>The <c>grpc-status</c> of <paramref name="headers"/> (trailers, or the headers of a trailers-only answer).</summary>
    public static StatusCode? StatusOf(HttpHeaders headers) =>
        !headers.NonValidated.TryGetValues(Status, out HeaderStringValues values) ? null
        : int.TryParse(values.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out int code) ? (StatusCode)code
        : StatusCode.Unknown;

    /// <summary>The call's <c>grpc-timeout</c>, or null when it has no deadline.</summary>
    /// <exception cref="InvalidOperationException">The header is not a gRPC timeout (the message quotes it and names the call).</exception>
    public static TimeSpan? TimeoutOf(HttpRequestMessage request, string method)
    {
        if (!request.Headers.NonValidated.TryGetValues(Timeout, out HeaderStringValues values))
        {
            return null;
        }
        string text = values.ToString();
        return TryParseTimeout(text, out TimeSpan timeout)
            ? timeout
            : throw new InvalidOperationException($"The grpc-timeout header '{text}' of call {method} is not a gRPC timeout (1-8 digits and one of the units H, M, S, m, u, n).");
    }

    /// <summary>Parses a <c>grpc-timeout</c> value; false when it is not 1-8 digits followed by one unit.</summary>
    public static bool TryParseTimeout(string? text, out TimeSpan timeout)
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
    /// What is left of a deadline as a <c>grpc-timeout</c> value, in milliseconds as Grpc.Net.Client sends it (seconds past
    /// 8 digits), rounded up so it is never sent as zero; a deadline that has passed becomes <c>1m</c> (the server fails
    /// the call at once).
    /// </summary>
    public static string FormatTimeout(TimeSpan left)
    {
        long milliseconds = Math.Max(1, (left.Ticks + TimeSpan.TicksPerMillisecond - 1) / TimeSpan.TicksPerMillisecond);
        return milliseconds <= MaxTimeoutValue
            ? milliseconds.ToString(CultureInfo.InvariantCulture) + "m"
            : Math.Min(MaxTimeoutValue, (milliseconds + 999) / 1000).ToString(CultureInfo.InvariantCulture) + "S";
    }
}
