using System.Net.Sockets;
using ClientLb.LoadBalancing;

namespace ClientLb.Attempts;

/// <summary>What a failed attempt says about its endpoint, and whether the request can have reached it.</summary>
public enum AttemptFailureKind
{
    /// <summary>The caller's own token or deadline fired: it says nothing about the endpoint, and nothing is retried.</summary>
    CallerCancelled,

    /// <summary>
    /// No connection was made (refused, unreachable, the connect timed out, or the endpoint's pool closed under a racing
    /// pick): the request was not sent, so it may go to another endpoint whatever its method.
    /// </summary>
    NotSent,

    /// <summary>The connection failed after the request may have been sent: only a request that may run twice goes elsewhere.</summary>
    Transport,
}

/// <summary>
/// The one place that tells the caller's cancellation from an endpoint's failure. A connect that times out surfaces as an
/// <see cref="OperationCanceledException"/> too (SocketsHttpHandler's <c>ConnectTimeout</c>, or ClientLb's own per-attempt
/// connect bound), so an <see cref="OperationCanceledException"/> is the caller's only when the caller's token fired.
/// </summary>
public static class AttemptFailure
{
    /// <summary>Classifies <paramref name="error"/>, thrown by an attempt that ran under the caller's <paramref name="callerToken"/>.</summary>
    public static AttemptFailureKind Classify(Exception error, CancellationToken callerToken)
    {
        ArgumentNullException.ThrowIfNull(error);
        return error switch
        {
            OperationCanceledException when callerToken.IsCancellationRequested => AttemptFailureKind.CallerCancelled,
            HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } or ObjectDisposedException => AttemptFailureKind.NotSent,
            // SocketsHttpHandler.ConnectTimeout: a cancellation around a TimeoutException while the caller's token has not fired.
            OperationCanceledException { InnerException: TimeoutException } => AttemptFailureKind.NotSent,
            _ => AttemptFailureKind.Transport,
        };
    }

    /// <summary>
    /// The error the caller sees for a failed attempt on <paramref name="endpoint"/>: an <see cref="HttpRequestException"/>
    /// whose message names the service and the endpoint's address, with <paramref name="error"/> inside. A connect that timed
    /// out becomes a <see cref="HttpRequestError.ConnectionError"/> (with a <see cref="SocketException"/> of
    /// <see cref="SocketError.TimedOut"/> inside, so gRPC reports UNAVAILABLE), not a cancellation the caller never asked for.
    /// </summary>
    /// <remarks>Any other exception (a bug, a body that cannot be sent) is returned as it is.</remarks>
    public static Exception Describe(Exception error, BalancedEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(error);
        ArgumentNullException.ThrowIfNull(endpoint);
        string where = $"service '{endpoint.ServiceId}', endpoint {endpoint.Endpoint.Authority}";
        return error switch
        {
            HttpRequestException http => new HttpRequestException(http.HttpRequestError, $"{http.Message} ({where})", http, http.StatusCode),
            OperationCanceledException => new HttpRequestException(HttpRequestError.ConnectionError, $"The connection could not be made in time ({where}).",
                new SocketException((int)SocketError.TimedOut, error.Message)),
            ObjectDisposedException => new HttpRequestException(HttpRequestError.ConnectionError, $"The endpoint left the service while the request was being sent ({where}).", error),
            _ => error,
        };
    }
}
