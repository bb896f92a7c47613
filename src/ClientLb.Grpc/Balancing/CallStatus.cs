using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using Grpc.Core;

namespace ClientLb.Grpc.Balancing;

/// <summary>
/// What the handler needs to know of an answer: whether the call is over before its body (a status in the headers, or an
/// HTTP error a proxy answered) and whether that status is UNAVAILABLE. Everything else about statuses (messages, details,
/// the full HTTP mapping) is grpc-dotnet's: the response passes to it untouched.
/// </summary>
internal static class CallStatus
{
    private const string StatusHeader = "grpc-status";

    /// <summary>The status a response's headers end the call with, or null when the status will come in the trailers.</summary>
    public static StatusCode? OfHeaders(HttpResponseMessage response) => response.StatusCode == HttpStatusCode.OK
        ? Read(response.Headers)
        // gRPC's HTTP mapping: 429, 502, 503 and 504 are UNAVAILABLE; grpc-dotnet maps the others for the caller.
        : (int)response.StatusCode is 429 or 502 or 503 or 504 ? StatusCode.Unavailable : StatusCode.Unknown;

    /// <summary>The <c>grpc-status</c> of <paramref name="headers"/> (trailers, or the headers of a trailers-only answer).</summary>
    public static StatusCode? Read(HttpHeaders headers) =>
        !headers.NonValidated.TryGetValues(StatusHeader, out HeaderStringValues values) ? null
        : int.TryParse(values.ToString(), NumberStyles.None, CultureInfo.InvariantCulture, out int code) ? (StatusCode)code
        : StatusCode.Unknown;
}
