using ClientLb.LoadBalancing;
using Polly;

namespace ClientLb.Attempts;

/// <summary>
/// One call's attempts after its first, run by <see cref="AttemptLoop.RetryAsync"/> under Polly's retry strategy: each picks an
/// endpoint away from the last one that failed, sends (<see cref="AttemptLoop.Start"/>), classifies and reports the outcome,
/// and decides whether the call goes on (<see cref="Decide"/>). Created only once a call needs it (its first attempt failed
/// in a way that may be retried). A protocol refines it through the protected hooks: its deadline, how it waits for an
/// endpoint, how it reads an answer and hands it to the caller.
/// </summary>
public class AttemptCall
{
    private Exception? _failedWith;
    private Outcome<HttpResponseMessage>? _seed;
    private Task? _wait;
    private Task? _pickerChanged;

    /// <summary>What follows an attempt.</summary>
    public enum NextStep
    {
        /// <summary>The attempt's outcome is the call's.</summary>
        None,

        /// <summary>Another attempt on another endpoint (a retry, paid from the retry budget).</summary>
        Retry,

        /// <summary>No endpoint can take the call yet: another attempt after a wait (gRPC wait-for-ready); no retry is counted.</summary>
        Wait,
    }

    /// <summary>
    /// Creates the state of a call whose first <paramref name="attempts"/> attempts were sent (the last to <paramref name="last"/>,
    /// picked after the balancer's <see cref="ServiceBalancer.PickerChanged"/> was <paramref name="pickerChanged"/>).
    /// </summary>
    public AttemptCall(AttemptLoop loop, ServiceBalancer balancer, HttpRequestMessage request, Uri original, CancellationToken cancellationToken,
        int attempts = 0, BalancedEndpoint? last = null, Task? pickerChanged = null)
    {
        _pickerChanged = pickerChanged;
        Loop = loop ?? throw new ArgumentNullException(nameof(loop));
        Balancer = balancer ?? throw new ArgumentNullException(nameof(balancer));
        Request = request ?? throw new ArgumentNullException(nameof(request));
        Original = original ?? throw new ArgumentNullException(nameof(original));
        CancellationToken = cancellationToken;
        Attempts = attempts;
        Last = last;
    }

    /// <summary>The loop the call runs in.</summary>
    public AttemptLoop Loop { get; }

    /// <summary>The service's balancer.</summary>
    public ServiceBalancer Balancer { get; }

    /// <summary>The call's request (its URI is pointed at each attempt's endpoint).</summary>
    public HttpRequestMessage Request { get; }

    /// <summary>The request's URI as the caller sent it.</summary>
    public Uri Original { get; }

    /// <summary>The caller's token.</summary>
    public CancellationToken CancellationToken { get; }

    /// <summary>How many attempts were sent.</summary>
    public int Attempts { get; private set; }

    /// <summary>The endpoint of the last attempt, which the next pick avoids.</summary>
    public BalancedEndpoint? Last { get; private set; }

    /// <summary>What follows the last attempt.</summary>
    public NextStep Next { get; private set; }

    /// <summary>Why the last attempt is retried, when it is.</summary>
    public string? Reason { get; private set; }

    /// <summary>The call as logs name it: the HTTP method by default.</summary>
    public virtual string Name => Request.Method.Method;

    /// <summary>
    /// Decides what follows the last attempt (on <see cref="Last"/>), which ended with <paramref name="verdict"/> and
    /// <paramref name="outcome"/>: a retry where <see cref="AttemptLoop.MayRetry"/>, <see cref="WithinDeadline"/> and the retry
    /// budget allow it; else a wait where the protocol waits for an endpoint after a call that was not sent; else the end.
    /// While the call goes on it holds <paramref name="outcome"/>'s error: the caller gets it if no endpoint can take the call
    /// (a failed answer is disposed by Polly's retry before the next attempt).
    /// </summary>
    /// <exception cref="InvalidOperationException">No attempt was sent.</exception>
    public NextStep Decide(in AttemptVerdict verdict, Outcome<HttpResponseMessage> outcome)
    {
        BalancedEndpoint failed = Last ?? throw new InvalidOperationException("A call decides after an attempt, and none was sent.");
        Next = NextStep.None;
        Reason = null;
        if (verdict.RetryReason is string reason && Loop.MayRetry(Balancer, Request, failed, verdict, Attempts) && WithinDeadline() &&
            Loop.TryWithdraw(Balancer, failed, reason, Name))
        {
            Next = NextStep.Retry;
            Reason = reason;
        }
        else if (verdict.NotSent && WaitForEndpoint(_pickerChanged ?? Balancer.PickerChanged, noEndpoint: false) is Task wait)
        {
            Next = NextStep.Wait;
            _wait = wait;
        }
        _failedWith = Next == NextStep.None ? null : outcome.Exception;
        return Next;
    }

    /// <summary>
    /// Runs the call's next attempt: waits where the last decision said so, picks (waiting for an endpoint where the protocol
    /// does), sends and completes the attempt. With no endpoint to go to, the outcome is the last failure the call had.
    /// </summary>
    internal async ValueTask<Outcome<HttpResponseMessage>> NextAsync()
    {
        if (_seed is Outcome<HttpResponseMessage> seed)
        {
            // Polly's first callback: the outcome that was decided before the strategy ran.
            _seed = null;
            return seed;
        }
        Next = NextStep.None;
        BalancedEndpoint endpoint;
        while (true)
        {
            if (_wait is Task wait)
            {
                _wait = null;
                await wait.ConfigureAwait(false);
            }
            Task pickerChanged = Balancer.PickerChanged;
            _pickerChanged = pickerChanged;
            try
            {
                endpoint = Balancer.Pick(Last is null ? new PickContext(Request) : new PickContext(Request, Last));
                break;
            }
            catch (NoEndpointsException ex)
            {
                _wait = WaitForEndpoint(pickerChanged, noEndpoint: true);
                if (_wait is null)
                {
                    // Nowhere else to go: the caller gets the failure it had.
                    return Outcome.FromException<HttpResponseMessage>(_failedWith ?? NoEndpoint(ex));
                }
            }
        }
        _failedWith = null;
        if (Attempts > 0)
        {
            BeforeRetry();
        }
        long now = Loop.TimeProvider.GetTimestamp();
        Task<HttpResponseMessage> sent = Loop.Start(Balancer, Request, Original, endpoint, now, Attempts, ConnectBound(now), CancellationToken, out AttemptStart attempt);
        Attempts++;
        Last = endpoint;
        return await Loop.CompleteAsync(this, attempt, sent).ConfigureAwait(false);
    }

    internal void Seed(Outcome<HttpResponseMessage> first) => _seed = first;

    /// <summary>Whether the call may still go to another endpoint (a protocol with deadlines checks them). True by default.</summary>
    protected internal virtual bool WithinDeadline() => true;

    /// <summary>How long an attempt starting at <paramref name="now"/> may wait for a connection; infinite (the pool's connect timeout) by default.</summary>
    protected internal virtual TimeSpan ConnectBound(long now) => Timeout.InfiniteTimeSpan;

    /// <summary>Prepares the request for a retry (a protocol with deadlines sends what is left). Nothing by default.</summary>
    protected internal virtual void BeforeRetry()
    {
    }

    /// <summary>
    /// The wait before the next attempt when no endpoint can take the call: none was eligible (<paramref name="noEndpoint"/>),
    /// or the call could not be sent and may not be retried elsewhere. Null (the default): the call ends with what it has.
    /// </summary>
    protected internal virtual Task? WaitForEndpoint(Task pickerChanged, bool noEndpoint) => null;

    /// <summary>What the caller gets when no endpoint was ever eligible: <paramref name="error"/> by default.</summary>
    protected internal virtual Exception NoEndpoint(NoEndpointsException error) => error;

    /// <summary>
    /// Reads what the protocol needs of an answer before it is classified (gRPC reads a unary answer to its end). A failure
    /// here is the attempt's failure (dispose <paramref name="response"/> first). The answer as it is, by default.
    /// </summary>
    protected internal virtual ValueTask<HttpResponseMessage> ReadAnswerAsync(BalancedEndpoint endpoint, HttpResponseMessage response) => new(response);

    /// <summary>
    /// Hands a final answer to the caller and ends its exchange with <paramref name="endpoint"/>: at once by default (a gRPC
    /// call under way ends when its body does).
    /// </summary>
    protected internal virtual HttpResponseMessage Deliver(HttpResponseMessage response, BalancedEndpoint endpoint)
    {
        ArgumentNullException.ThrowIfNull(endpoint);
        endpoint.OnRequestEnd();
        return response;
    }
}
