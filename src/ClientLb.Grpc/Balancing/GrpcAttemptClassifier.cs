using ClientLb.Attempts;
using ClientLb.Balancing;
using ClientLb.Grpc.Configuration;
using Grpc.Core;

namespace ClientLb.Grpc.Balancing;

/// <summary>
/// gRPC's part of the attempt model: UNAVAILABLE (in the headers of a trailers-only answer, in the trailers of an answer read
/// ahead, or an HTTP 429/502/503/504 a proxy answered) counts against the endpoint and may go elsewhere; any other HTTP 5xx
/// counts against it too; every other status is the call's answer. A call may be sent again when its body can be: not sent
/// at all (no connection), or an idempotent method whose body never started or was kept whole.
/// </summary>
internal sealed class GrpcAttemptClassifier(MethodSet idempotent) : AttemptClassifier
{
    private const string Unavailable = "grpc_unavailable";
    private static readonly AttemptVerdict UnavailableVerdict = new(AttemptOutcome.ServerUnavailable, Unavailable, Unavailable, false);
    private static readonly AttemptVerdict ServerError = new(AttemptOutcome.ServerUnavailable, null, null, false);

    public override AttemptVerdict ClassifyAnswer(HttpResponseMessage response)
    {
        StatusCode? status = GrpcHeaders.StatusOfHeaders(response)
            // An answer read to its end has its status in its trailers; one still under way has none yet.
            ?? (response.Content is ResponseReadAhead.ReadAnswer ? GrpcHeaders.StatusOf(response.TrailingHeaders) : null);
        return status == StatusCode.Unavailable ? UnavailableVerdict
            : (int)response.StatusCode >= 500 ? ServerError
            : AttemptVerdict.Answered;
    }

    public override bool MaySendAgain(HttpRequestMessage request, bool notSent)
    {
        // The body is wrapped (CallContent) only where a retry may send it again after it went out; any other call's own body
        // was never read when nothing was sent.
        CallContent? content = request.Content as CallContent;
        return notSent
            ? content is null or { Started: false } or { CanReplay: true }
            : content is { Started: false } or { CanReplay: true } && request.RequestUri is Uri uri && idempotent.Contains(uri.AbsolutePath);
    }
}
