using ClientLb.Attempts;
using ClientLb.Balancing;

namespace ClientLb.Http;

/// <summary>
/// HTTP's part of the attempt model: any 5xx counts against the endpoint; after a 502/503/504, or a connection that failed
/// once the request may have been sent, only idempotent requests whose body can be sent again go to another endpoint.
/// </summary>
internal sealed class HttpAttemptClassifier : AttemptClassifier
{
    public static readonly HttpAttemptClassifier Instance = new();

    private static readonly AttemptVerdict ServerError = new(AttemptOutcome.ServerUnavailable, "status_5xx", null, false);

    public override AttemptVerdict ClassifyAnswer(HttpResponseMessage response) => (int)response.StatusCode switch
    {
        < 500 => AttemptVerdict.Answered,
        502 => new(AttemptOutcome.ServerUnavailable, "status_5xx", "status_502", false),
        503 => new(AttemptOutcome.ServerUnavailable, "status_5xx", "status_503", false),
        504 => new(AttemptOutcome.ServerUnavailable, "status_5xx", "status_504", false),
        _ => ServerError,
    };

    /// <summary>
    /// Not sent: always. Maybe sent: idempotent, or explicitly allowed by the caller (<see cref="ClientLbRequestOptions.AllowRetry"/>),
    /// and with a body that can be sent twice.
    /// </summary>
    public override bool MaySendAgain(HttpRequestMessage request, bool notSent) =>
        notSent || (CanResendContent(request.Content) && (IsIdempotent(request.Method) ||
            // Reading Options creates it: only on this failure path, and only for non-idempotent methods.
            (request.Options.TryGetValue(ClientLbRequestOptions.AllowRetry, out bool allowed) && allowed)));

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
