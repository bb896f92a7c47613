using System.Globalization;
using System.Net;
using System.Net.Http.Headers;

namespace ClientLb.Grpc.Protocol;

/// <summary>A call's outcome: its status code and the server's <c>grpc-message</c>.</summary>
/// <param name="Code">The status code.</param>
/// <param name="Detail">The decoded <c>grpc-message</c>, empty when none.</param>
public readonly record struct GrpcStatus(GrpcStatusCode Code, string Detail)
{
    /// <summary>The <c>grpc-status</c> header (a trailer, or a header of a trailers-only response).</summary>
    public const string StatusHeader = "grpc-status";

    /// <summary>The <c>grpc-message</c> header: percent-encoded UTF-8.</summary>
    public const string MessageHeader = "grpc-message";

    /// <summary>
    /// The status of a trailers-only response (the server answered with headers alone, as it does for an error before any
    /// message), or null when the headers carry no <c>grpc-status</c> and the status will come in the trailers.
    /// </summary>
    public static GrpcStatus? FromHeaders(HttpHeaders headers) =>
        headers.NonValidated.TryGetValues(StatusHeader, out HeaderStringValues status) ? Parse(status.ToString(), headers) : null;

    /// <summary>
    /// The status an HTTP status other than 200 stands for (gRPC's http-grpc-status-mapping.md): 502, 503, 504 and 429
    /// are UNAVAILABLE. Null for 200, whose status is in <c>grpc-status</c>.
    /// </summary>
    public static GrpcStatus? FromHttpStatus(HttpStatusCode status)
    {
        GrpcStatusCode? code = (int)status switch
        {
            200 => null,
            400 => GrpcStatusCode.Internal,
            401 => GrpcStatusCode.Unauthenticated,
            403 => GrpcStatusCode.PermissionDenied,
            404 => GrpcStatusCode.Unimplemented,
            429 or 502 or 503 or 504 => GrpcStatusCode.Unavailable,
            _ => GrpcStatusCode.Unknown,
        };
        return code is GrpcStatusCode c ? new GrpcStatus(c, $"Bad gRPC response: HTTP status {(int)status}.") : null;
    }

    private static GrpcStatus Parse(string text, HttpHeaders headers)
    {
        if (!int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int value) || value > (int)GrpcStatusCode.Unauthenticated)
        {
            // The spec maps codes a client does not know to UNKNOWN; a value that is not a number is a protocol error.
            return int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out _)
                ? new GrpcStatus(GrpcStatusCode.Unknown, $"Unknown grpc-status {text}.")
                : new GrpcStatus(GrpcStatusCode.Internal, $"The grpc-status header '{text}' is not a status code.");
        }
        string detail = headers.NonValidated.TryGetValues(MessageHeader, out HeaderStringValues message) ? DecodeMessage(message.ToString()) : "";
        return new GrpcStatus((GrpcStatusCode)value, detail);
    }

    // grpc-message is percent-encoded UTF-8; a malformed escape is kept as it arrived rather than failing the call.
    private static string DecodeMessage(string encoded)
    {
        try
        {
            return Uri.UnescapeDataString(encoded);
        }
        catch (UriFormatException)
        {
            return encoded;
        }
    }

    /// <inheritdoc />
    public override string ToString() => Detail.Length == 0 ? Code.ToString() : $"{Code}: {Detail}";
}
