using ClientLb.Balancing;
using ClientLb.Balancing.Policies;

namespace ClientLb.Balancing;

// For protocol integrations that send through a picked endpoint themselves (ClientLb.Grpc): the same attempt accounting
// as ClientLbHttpHandler (passive health, latency, metrics), and active-health verdicts feeding the same eligibility.
public sealed partial class ServiceBalancer
{
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
    /// Records how an attempt on <paramref name="endpoint"/> ended, for passive health and latency: <paramref name="outcome"/>
    /// is the protocol's verdict (an HTTP 5xx and a gRPC UNAVAILABLE are both <see cref="AttemptOutcome.ServerUnavailable"/>).
    /// <paramref name="start"/> is the attempt's <see cref="StartAttempt(BalancedEndpoint)"/> timestamp, or negative for an
    /// untimed attempt (a grpc-dotnet call tracker's): an answer's latency counts only when timed. Never report the caller's
    /// own cancellation: it says nothing about the endpoint.
    /// </summary>
    public void EndAttempt(BalancedEndpoint endpoint, long start, AttemptOutcome outcome)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        if ((uint)outcome > (uint)AttemptOutcome.EndpointLeft)
        {
            throw new ArgumentOutOfRangeException(nameof(outcome), outcome, "Not an attempt outcome.");
        }
        OnAttemptEnd(endpoint, start, outcome);
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
