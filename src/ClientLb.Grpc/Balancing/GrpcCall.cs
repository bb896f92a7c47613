using System.Runtime.ExceptionServices;
using ClientLb.Attempts;
using ClientLb.LoadBalancing;

namespace ClientLb.Grpc.Balancing;

/// <summary>
/// A gRPC call in the shared attempt model, past a first attempt that did not complete it (or before the first attempt of a
/// call whose answer is read ahead): its deadline bounds retries and connects and is sent as what is left; wait-for-ready
/// waits for an endpoint; a unary idempotent answer is read to its end before it is classified; an answer under way stays
/// outstanding on its endpoint until its body ends.
/// </summary>
internal sealed class GrpcCall : AttemptCall
{
    // The request option grpc-dotnet sets for CallOptions.WithWaitForReady() (Grpc.Net.Client's BalancerHttpHandler.WaitForReadyKey).
    private static readonly HttpRequestOptionsKey<bool> WaitForReadyKey = new("WaitForReady");

    private readonly CallPlan _plan;
    private readonly int _readAheadLimit;
    private byte[]? _prefix;
    private int _waits;

    /// <param name="loop">The handler's attempt loop.</param>
    /// <param name="plan">The call.</param>
    /// <param name="readAheadLimit">The largest answer read ahead (unary idempotent methods), or 0 to read none.</param>
    /// <param name="first">The endpoint of the first attempt, when it was sent already.</param>
    public GrpcCall(AttemptLoop loop, in CallPlan plan, int readAheadLimit, BalancedEndpoint? first)
        : base(loop, plan.Balancer, plan.Request, plan.Original, plan.CancellationToken, first is null ? 0 : 1, first, plan.PickerChanged)
    {
        _plan = plan;
        _readAheadLimit = readAheadLimit;
    }

    public override string Name => _plan.Method;

    protected override bool WithinDeadline() => _plan.Timeout is not TimeSpan t || Loop.TimeProvider.GetElapsedTime(_plan.CallStart) < t;

    protected override TimeSpan ConnectBound(long now) => ConnectBound(Loop, _plan, now);

    /// <summary>
    /// Where another endpoint could take the call, the wait for a connection is bounded by half of what is left of the
    /// deadline (and by the pool's connect timeout), so a connect that never completes leaves time for the retry.
    /// </summary>
    public static TimeSpan ConnectBound(AttemptLoop loop, in CallPlan call, long now)
    {
        if (call.Timeout is not TimeSpan t || call.Balancer.EligibleCount < 2 || loop.MaxRetryAttempts == 0)
        {
            return Timeout.InfiniteTimeSpan;
        }
        TimeSpan left = t - loop.TimeProvider.GetElapsedTime(call.CallStart, now);
        return left > TimeSpan.Zero ? left / 2 : TimeSpan.Zero;
    }

    protected override void BeforeRetry()
    {
        if (_plan.Timeout is TimeSpan t)
        {
            // The server of this attempt gets what is left of the call's deadline.
            Request.Headers.Remove(GrpcHeaders.Timeout);
            Request.Headers.TryAddWithoutValidation(GrpcHeaders.Timeout, GrpcHeaders.FormatTimeout(t - Loop.TimeProvider.GetElapsedTime(_plan.CallStart)));
        }
    }

    // Wait-for-ready: an endpoint may become eligible before the deadline (the caller's token). With none eligible, the
    // next picker; after a call no endpoint could take, a short backoff, or at once when the picker changes.
    protected override Task? WaitForEndpoint(Task pickerChanged, bool noEndpoint) =>
        !WaitsForReady(Request) ? null
        : noEndpoint ? pickerChanged.WaitAsync(CancellationToken)
        : WaitToRetryAsync(pickerChanged, _waits++, Loop.TimeProvider, CancellationToken);

    protected override Exception NoEndpoint(NoEndpointsException error) => ClientLbGrpcHandler.Unavailable(error);

    // A unary answer of an idempotent method is read to its end: a connection lost mid-answer, or UNAVAILABLE in the
    // trailers, is then seen while the call can still go to another endpoint.
    protected override async ValueTask<HttpResponseMessage> ReadAnswerAsync(BalancedEndpoint endpoint, HttpResponseMessage response)
    {
        if (_readAheadLimit == 0 || GrpcHeaders.StatusOfHeaders(response) is not null)
        {
            return response;
        }
        ResponseReadAhead.Result ahead = await ResponseReadAhead.ReadAsync(response, _readAheadLimit, CancellationToken).ConfigureAwait(false);
        if (ahead.Error is Exception lost)
        {
            // The connection went away mid-answer: the call may have run (never "not sent", whatever the stream threw).
            response.Dispose();
            ExceptionDispatchInfo.Throw(lost is ObjectDisposedException ? new IOException("The answer ended before it was read whole.", lost) : lost);
        }
        if (ahead.Complete)
        {
            response.Content = ResponseReadAhead.Buffered(response.Content, ahead.Body);
        }
        else
        {
            _prefix = ahead.Body;
        }
        return response;
    }

    protected override HttpResponseMessage Deliver(HttpResponseMessage response, BalancedEndpoint endpoint) =>
        ClientLbGrpcHandler.Deliver(response, endpoint, _prefix);

    // grpc-dotnet marks a call made with CallOptions.WithWaitForReady() on the request. Read on failure paths only: reading
    // HttpRequestMessage.Options creates its dictionary, which grpc-dotnet leaves unallocated for other calls.
    private static bool WaitsForReady(HttpRequestMessage request) => request.Options.TryGetValue(WaitForReadyKey, out bool wait) && wait;

    private static async Task WaitToRetryAsync(Task pickerChanged, int waits, TimeProvider time, CancellationToken cancellationToken)
    {
        TimeSpan backoff = TimeSpan.FromMilliseconds(Math.Min(1000, 50 << Math.Min(waits, 5)));
        try
        {
            await pickerChanged.WaitAsync(backoff, time, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException)
        {
            // The backoff passed without a picker change: try the endpoints again.
        }
    }
}
