using System.Net;
using ClientLb.Balancing.Policies;

namespace ClientLb.Balancing;

// For protocol integrations that send through a picked endpoint themselves (ClientLb.Grpc): the same attempt accounting
// as ClientLbHttpHandler (passive health, latency, metrics), and active-health verdicts feeding the same eligibility.
public sealed partial class ServiceBalancer
{
    // gRPC's HTTP mapping turns 503 into UNAVAILABLE; the stand-in carries a protocol-level "unavailable" answer into the
    // same consecutive-5xx accounting as a real 503. Only its status code is read.
    private static readonly HttpResponseMessage UnavailableStandIn = new(HttpStatusCode.ServiceUnavailable);
    private static readonly HttpResponseMessage OkStandIn = new(HttpStatusCode.OK);

    /// <summary>
    /// Starts an attempt on <paramref name="endpoint"/> (just picked) for a caller that sends the request itself: ends
    /// ejections that are due, counts the pick and the request as outstanding. Pair with <see cref="EndAttempt"/> when the
    /// answer's headers arrived or the send failed, and with <see cref="BalancedEndpoint.OnRequestEnd"/> when the exchange
    /// (a whole stream, for streaming calls) is over.
    /// </summary>
    /// <returns>The attempt's start timestamp, for <see cref="EndAttempt"/>.</returns>
    public long StartAttempt(BalancedEndpoint endpoint) => StartAttempt(endpoint, _timeProvider.GetTimestamp());

    /// <summary>As <see cref="StartAttempt(BalancedEndpoint)"/>, at <paramref name="now"/>: a timestamp of this service's
    /// <see cref="TimeProvider"/> the caller just took (its call's start), so the attempt costs no clock read of its own.</summary>
    /// <returns><paramref name="now"/>, the attempt's start timestamp.</returns>
    public long StartAttempt(BalancedEndpoint endpoint, long now)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        long start = OnAttemptStart(now);
        _metrics?.Picked(endpoint);
        endpoint.OnRequestStart();
        return start;
    }

    /// <summary>
    /// Records an attempt's outcome for passive health and latency: a failed send (<paramref name="error"/>), a response,
    /// or a response that reports an unavailable server in its own protocol (<paramref name="unavailable"/>, e.g. gRPC
    /// status UNAVAILABLE in an HTTP 200), which counts like a 5xx.
    /// </summary>
    public void EndAttempt(BalancedEndpoint endpoint, long start, HttpResponseMessage? response, Exception? error, bool unavailable = false)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if (response is null && error is null)
        {
            throw new ArgumentException("An attempt ends with a response or an error.", nameof(response));
        }
        OnAttemptEnd(endpoint, start, unavailable && error is null && (int)response!.StatusCode < 500 ? UnavailableStandIn : response, error);
    }

    /// <summary>
    /// Records the outcome of a call an integration tracks itself (a grpc-dotnet subchannel's call tracker): a success
    /// (<paramref name="error"/> null) ends runs of failures and, with a <paramref name="start"/> timestamp (negative when
    /// not timed), feeds latency; an error counts against the endpoint like a failed connection. Never pass the caller's own
    /// cancellation.
    /// </summary>
    public void EndCall(BalancedEndpoint endpoint, long start, Exception? error)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        OnAttemptEnd(endpoint, start, error is null ? OkStandIn : null, error);
    }

    /// <summary>
    /// A picker of <paramref name="policy"/> over <paramref name="endpoints"/> (never empty) with this service's options,
    /// clock and policy state: for integrations that pick among a subset themselves (grpc-dotnet's ready subchannels).
    /// </summary>
    public EndpointPicker CreatePicker(ILoadBalancingPolicy policy, IReadOnlyList<BalancedEndpoint> endpoints)
    {
        ArgumentNullException.ThrowIfNull(policy);
        ArgumentNullException.ThrowIfNull(endpoints);
        return policy.CreatePicker(endpoints, _context);
    }

    /// <summary>
    /// Records an active health check's verdict for <paramref name="endpoint"/>. An endpoint that does not serve leaves the
    /// picker as an ejected one does (the panic threshold still applies); a serving one returns. A change rebuilds the picker.
    /// </summary>
    /// <returns>Whether the verdict changed.</returns>
    public bool ReportHealthCheck(BalancedEndpoint endpoint, bool serving)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        return _health.ReportHealthCheck(endpoint, serving);
    }
}
