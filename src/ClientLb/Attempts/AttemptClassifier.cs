
using ClientLb.Balancing;

namespace ClientLb.Attempts;

/// <summary>
/// Decides what an attempt's end means, for one protocol: what passive health hears, which failure metrics count, and
/// whether the call may go to another endpoint. A failed send means the same in every protocol (<see cref="ClassifyFailure"/>);
/// a protocol says what its answers mean (<see cref="ClassifyAnswer"/>) and which calls may be sent again
/// (<see cref="MaySendAgain"/>).
/// </summary>
public abstract class AttemptClassifier
{
    /// <summary>The verdict on an answer (its headers, or the whole answer when it was read ahead).</summary>
    public abstract AttemptVerdict ClassifyAnswer(HttpResponseMessage response);

    /// <summary>
    /// Whether <paramref name="request"/> may be sent again to another endpoint after a failure: <paramref name="notSent"/>
    /// when no server can have seen it (no connection was made), otherwise it may have run once already.
    /// </summary>
    public abstract bool MaySendAgain(HttpRequestMessage request, bool notSent);

    /// <summary>
    /// The verdict on a send that failed, in any protocol. A connection that could not be made sent nothing, so the call may go
    /// elsewhere whatever it is; a connection that failed after the request may have been sent is retried only when the
    /// protocol says the call may run twice (<see cref="MaySendAgain"/>). Never the caller's own cancellation
    /// (<see cref="AttemptFailure.Classify"/> tells it apart first).
    /// </summary>
    /// <param name="error">What the send threw, as it was thrown (before <see cref="AttemptFailure.Describe"/>).</param>
    public static AttemptVerdict ClassifyFailure(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        if (AttemptFailure.Classify(error, CancellationToken.None) == AttemptFailureKind.NotSent)
        {
            return new AttemptVerdict(error is ObjectDisposedException ? AttemptOutcome.EndpointLeft : AttemptOutcome.ConnectionFailed,
                ConnectionError, ConnectionError, NotSent: true);
        }
        // Anything other than a transport's error (a bug, a body that cannot be sent) would fail again anywhere.
        bool transport = error is HttpRequestException or IOException or OperationCanceledException;
        return new AttemptVerdict(AttemptOutcome.TransportFailed, TransportError, transport ? TransportError : null, NotSent: false);
    }

    /// <summary>The failure label of a connection that could not be made.</summary>
    public const string ConnectionError = "connection_error";

    /// <summary>The failure label of a connection that failed after the request may have been sent.</summary>
    public const string TransportError = "transport_error";
}
