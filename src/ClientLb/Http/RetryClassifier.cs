
using ClientLb.LoadBalancing;

namespace ClientLb.Http;

/// <summary>Decides whether a failed attempt may be sent again on another endpoint.</summary>
internal static class RetryClassifier
{
    /// <summary>
    /// A connection that could not be made sent nothing, so any request may go elsewhere. After a response
    /// of 502/503/504, or a transport error once the request may have been sent, only idempotent requests
    /// whose body can be sent again are retried.
    /// </summary>
    /// <remarks>
    /// A connect that timed out is a connection that could not be made; a cancellation is the caller's only when
    /// <paramref name="callerToken"/> fired (<see cref="AttemptFailure.Classify"/>).
    /// </remarks>
    public static bool IsRetryable(HttpResponseMessage? response, Exception? exception, HttpRequestMessage request, CancellationToken callerToken, out string reason)
    {
        if (exception is null)
        {
            int status = (int)response!.StatusCode;
            reason = status switch { 502 => "status_502", 503 => "status_503", 504 => "status_504", _ => "" };
            return reason.Length > 0 && MaySendAgain(request);
        }
        switch (AttemptFailure.Classify(exception, callerToken))
        {
            case AttemptFailureKind.NotSent:
                reason = "connection_error";
                return true;
            case AttemptFailureKind.Transport when exception is HttpRequestException or IOException:
                reason = "transport_error";
                return MaySendAgain(request);
            default:
                reason = "";
                return false;
        }
    }

    /// <summary>
    /// Whether a request that may have reached a server can be sent again: idempotent, or explicitly allowed by the caller
    /// (<see cref="ClientLbRequestOptions.AllowRetry"/>), and with a body that can be sent twice.
    /// </summary>
    private static bool MaySendAgain(HttpRequestMessage request) =>
        CanResendContent(request.Content) && (IsIdempotent(request.Method) ||
            // Reading Options creates it: only on this failure path, and only for non-idempotent methods.
            (request.Options.TryGetValue(ClientLbRequestOptions.AllowRetry, out bool allowed) && allowed));

    /// <summary>Whether a request may be hedged: idempotent, with a body that can be sent more than once.</summary>
    public static bool CanSendAgain(HttpRequestMessage request) => IsIdempotent(request.Method) && CanResendContent(request.Content);

    /// <summary>The methods RFC 9110 section 9.2.2 calls idempotent.</summary>
    public static bool IsIdempotent(HttpMethod method) =>
        method == HttpMethod.Get || method == HttpMethod.Head || method == HttpMethod.Options ||
        method == HttpMethod.Trace || method == HttpMethod.Put || method == HttpMethod.Delete;

    /// <summary>Buffered bodies can be sent twice; streams may already be consumed.</summary>
    private static bool CanResendContent(HttpContent? content) =>
        content is null or ByteArrayContent or ReadOnlyMemoryContent;
}
