using System.Diagnostics;
using ClientLb.Balancing;
using ClientLb.Diagnostics;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Retry;

namespace ClientLb.Attempts;

/// <summary>
/// The attempt model HTTP and gRPC share: pick, attempt (<see cref="Start"/>), classify the outcome and report it to passive
/// health (<see cref="Answered"/>, <see cref="Failed"/>), and maybe retry on another endpoint (<see cref="MayRetry"/>,
/// <see cref="TryWithdraw"/>, <see cref="RetryAsync"/>). A handler runs a call's first attempt inline with these steps, so a
/// call that succeeds costs no resilience machinery; only a failed attempt enters Polly's retry strategy, which runs the
/// further attempts of an <see cref="AttemptCall"/>. The protocol's differences are its <see cref="AttemptClassifier"/> and the
/// hooks of its <see cref="AttemptCall"/>.
/// </summary>
public sealed class AttemptLoop
{
    private static readonly ResiliencePropertyKey<AttemptCall> CallKey = new("clientlb.attempts");

    private readonly ResiliencePipeline<HttpResponseMessage> _retry;
    private readonly EndpointTransports _transports;
    private readonly ClientLbMetrics _metrics;
    private readonly ILogger _logger;
    private readonly bool _traced;

    /// <summary>Creates the loop of one handler.</summary>
    /// <param name="classifier">The protocol's classifier.</param>
    /// <param name="maxRetryAttempts">How many times a call may be retried, each time on another endpoint (0: never).</param>
    /// <param name="transports">The endpoints' connection pools.</param>
    /// <param name="metrics">Where picks, failures and retries are counted.</param>
    /// <param name="logger">Where retries and a spent retry budget are logged.</param>
    /// <param name="timeProvider">The clock of attempts (their latency, deadlines).</param>
    /// <param name="traceAttempts">Whether each attempt is a <c>ClientLb.Attempt</c> activity (when listened to) around its send.</param>
    public AttemptLoop(AttemptClassifier classifier, int maxRetryAttempts, EndpointTransports transports, ClientLbMetrics metrics, ILogger logger,
        TimeProvider timeProvider, bool traceAttempts)
    {
        Classifier = classifier ?? throw new ArgumentNullException(nameof(classifier));
        ArgumentOutOfRangeException.ThrowIfNegative(maxRetryAttempts);
        _transports = transports ?? throw new ArgumentNullException(nameof(transports));
        _metrics = metrics ?? throw new ArgumentNullException(nameof(metrics));
        _logger = logger ?? throw new ArgumentNullException(nameof(logger));
        TimeProvider = timeProvider ?? throw new ArgumentNullException(nameof(timeProvider));
        MaxRetryAttempts = maxRetryAttempts;
        _traced = traceAttempts;
        // Built even without retries: a call may still wait for an endpoint and try again (gRPC wait-for-ready).
        _retry = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = timeProvider }
            .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
            {
                Name = "ClientLb.RetryOnAnotherEndpoint",
                // The call counts its retries (MayRetry); a wait for an endpoint is no retry.
                MaxRetryAttempts = int.MaxValue,
                Delay = TimeSpan.Zero,
                BackoffType = DelayBackoffType.Constant,
                UseJitter = false,
                // Each attempt decided (classified, paid from the budget) before it returned its outcome.
                ShouldHandle = static args => new ValueTask<bool>(
                    args.Context.Properties.TryGetValue(CallKey, out AttemptCall? call) && call.Next != AttemptCall.NextStep.None),
                OnRetry = OnRetry,
            })
            .Build();
    }

    /// <summary>The protocol's classifier.</summary>
    public AttemptClassifier Classifier { get; }

    /// <summary>How many times a call may be retried.</summary>
    public int MaxRetryAttempts { get; }

    /// <summary>The clock of attempts.</summary>
    public TimeProvider TimeProvider { get; }

    /// <summary>
    /// Sends an attempt to <paramref name="endpoint"/> (just picked): points the request at it (<see cref="EndpointUri.For"/>),
    /// starts it on the balancer (due ejections end, the pick and the outstanding request are counted), and sends over the
    /// endpoint's pool. A send that throws at once is a failed attempt like any other. Pair with <see cref="Answered"/> or
    /// <see cref="Failed"/>, and end the exchange with <see cref="BalancedEndpoint.OnRequestEnd"/>.
    /// </summary>
    /// <param name="balancer">The service's balancer.</param>
    /// <param name="request">The request (its URI is rewritten; restore <paramref name="original"/> when the call is over).</param>
    /// <param name="original">The request's URI as the caller sent it.</param>
    /// <param name="endpoint">The picked endpoint.</param>
    /// <param name="now">A timestamp of <see cref="TimeProvider"/> just taken: the attempt's start.</param>
    /// <param name="attempt">The attempt's number (0 for the first), for tracing.</param>
    /// <param name="connectBound">How long the attempt may wait for a connection while the endpoint has none (infinite: the pool's connect timeout).</param>
    /// <param name="cancellationToken">The caller's token.</param>
    /// <param name="started">The attempt, for its end.</param>
    /// <returns>The send, up to the answer's headers.</returns>
    public Task<HttpResponseMessage> Start(ServiceBalancer balancer, HttpRequestMessage request, Uri original, BalancedEndpoint endpoint,
        long now, int attempt, TimeSpan connectBound, CancellationToken cancellationToken, out AttemptStart started)
    {
        ArgumentNullException.ThrowIfNull(balancer);
        ArgumentNullException.ThrowIfNull(request);
        request.RequestUri = EndpointUri.For(original, endpoint.Endpoint, balancer.Service);
        long start = balancer.StartAttempt(endpoint, now);
        // The attempt activity wraps the transport, so HttpClient's own request activity (created inside the endpoint's
        // SocketsHttpHandler) is its child: the chosen endpoint is on the request's parent span.
        Activity? span = _traced && ClientLbActivity.Source.HasListeners() ? StartActivity(endpoint, attempt) : null;
        Task<HttpResponseMessage> sent;
        try
        {
            sent = _transports.SendAsync(endpoint, request, connectBound, cancellationToken);
        }
        catch (Exception ex)
        {
            sent = Task.FromException<HttpResponseMessage>(ex);
        }
        started = new AttemptStart(endpoint, start, span);
        return sent;
    }

    /// <summary>Classifies an attempt's answer and reports it: passive health, latency, failure metrics.</summary>
    public AttemptVerdict Answered(ServiceBalancer balancer, in AttemptStart attempt, HttpResponseMessage response)
    {
        ArgumentNullException.ThrowIfNull(balancer);
        ArgumentNullException.ThrowIfNull(response);
        AttemptVerdict verdict = Classifier.ClassifyAnswer(response);
        Report(balancer, attempt, verdict);
        return verdict;
    }

    /// <summary>
    /// Classifies a failed send and reports it (never the caller's own cancellation: test <see cref="AttemptFailure.Classify"/>
    /// first). <paramref name="failure"/> is the error the caller sees (<see cref="AttemptFailure.Describe"/>).
    /// </summary>
    public AttemptVerdict Failed(ServiceBalancer balancer, in AttemptStart attempt, Exception error, out Exception failure)
    {
        ArgumentNullException.ThrowIfNull(balancer);
        AttemptVerdict verdict = AttemptClassifier.ClassifyFailure(error);
        failure = AttemptFailure.Describe(error, attempt.Endpoint);
        attempt.Span?.SetStatus(ActivityStatusCode.Error, failure.Message);
        Report(balancer, attempt, verdict);
        return verdict;
    }

    private void Report(ServiceBalancer balancer, in AttemptStart attempt, in AttemptVerdict verdict)
    {
        balancer.OnAttemptEnd(attempt.Endpoint, attempt.Start, verdict.Outcome);
        if (verdict.Failure is string failure)
        {
            _metrics.Failed(attempt.Endpoint, failure);
        }
    }

    /// <summary>
    /// Whether a call whose attempt on <paramref name="failed"/> ended with <paramref name="verdict"/> may go to another
    /// endpoint: retries are left after its <paramref name="attempts"/> attempts, and <see cref="CanGoElsewhere"/>. Has no
    /// effect; <see cref="TryWithdraw"/> then pays for the retry.
    /// </summary>
    public bool MayRetry(ServiceBalancer balancer, HttpRequestMessage request, BalancedEndpoint failed, in AttemptVerdict verdict, int attempts) =>
        attempts <= MaxRetryAttempts && CanGoElsewhere(balancer, request, failed, verdict);

    /// <summary>
    /// Whether the verdict lets the call go elsewhere, another endpoint than <paramref name="failed"/> exists, and the
    /// protocol lets the request be sent again (<see cref="AttemptClassifier.MaySendAgain"/>).
    /// </summary>
    public bool CanGoElsewhere(ServiceBalancer balancer, HttpRequestMessage request, BalancedEndpoint failed, in AttemptVerdict verdict)
    {
        ArgumentNullException.ThrowIfNull(balancer);
        return verdict.RetryReason is not null && balancer.HasOtherEndpoint(failed) && Classifier.MaySendAgain(request, verdict.NotSent);
    }

    /// <summary>
    /// Takes one retry (or hedge) from the service's retry budget; when it is spent, counts and logs that <paramref name="call"/>
    /// is not retried after <paramref name="reason"/> on <paramref name="failed"/>, and returns false.
    /// </summary>
    public bool TryWithdraw(ServiceBalancer balancer, BalancedEndpoint failed, string reason, string call)
    {
        ArgumentNullException.ThrowIfNull(balancer);
        if (balancer.RetryBudget.TryWithdraw())
        {
            return true;
        }
        _metrics.BudgetExhausted(balancer.Service.Id);
        Log.RetryBudgetExhausted(_logger, balancer.Service.Id, call, failed.Endpoint.Authority, reason);
        return false;
    }

    /// <summary>
    /// Runs <paramref name="call"/>: its first attempt (picked and sent now, waiting for an endpoint where the call does),
    /// then its further attempts (<see cref="RetryAsync"/>). For calls
    /// whose first attempt cannot be run inline by the handler, or did not complete the call there.
    /// </summary>
    public async Task<HttpResponseMessage> RunAsync(AttemptCall call)
    {
        ArgumentNullException.ThrowIfNull(call);
        return await RetryAsync(call, await call.NextAsync().ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>As <see cref="RunAsync(AttemptCall)"/>, with the first attempt (<paramref name="first"/>, <paramref name="sent"/>) sent already.</summary>
    public async Task<HttpResponseMessage> RunAsync(AttemptCall call, AttemptStart first, Task<HttpResponseMessage> sent)
    {
        ArgumentNullException.ThrowIfNull(call);
        ArgumentNullException.ThrowIfNull(sent);
        return await RetryAsync(call, await CompleteAsync(call, first, sent).ConfigureAwait(false)).ConfigureAwait(false);
    }

    /// <summary>
    /// Runs <paramref name="call"/>'s further attempts under Polly's retry strategy, seeded with the outcome of the attempt
    /// that decided to go on (<see cref="AttemptCall.Decide"/>). Returns the first final answer, or throws the final failure.
    /// </summary>
    public async Task<HttpResponseMessage> RetryAsync(AttemptCall call, Outcome<HttpResponseMessage> first)
    {
        ArgumentNullException.ThrowIfNull(call);
        if (call.Next == AttemptCall.NextStep.None)
        {
            first.ThrowIfException();
            return first.Result!;
        }
        call.Seed(first);
        ResilienceContext context = ResilienceContextPool.Shared.Get(call.CancellationToken);
        try
        {
            context.Properties.Set(CallKey, call);
            Outcome<HttpResponseMessage> outcome = await _retry.ExecuteOutcomeAsync(
                static (ctx, c) => c.NextAsync(), context, call).ConfigureAwait(false);
            outcome.ThrowIfException();
            return outcome.Result!;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private ValueTask OnRetry(OnRetryArguments<HttpResponseMessage> args)
    {
        if (args.Context.Properties.TryGetValue(CallKey, out AttemptCall? call) && call.Next == AttemptCall.NextStep.Retry)
        {
            _metrics.Retried(call.Balancer.Service.Id);
            Log.Retrying(_logger, call.Balancer.Service.Id, call.Name, call.Attempts, call.Last!.Endpoint.Authority, call.Reason!);
        }
        return ValueTask.CompletedTask;
    }

    /// <summary>
    /// Completes an attempt of <paramref name="call"/> sent by <see cref="Start"/>: awaits its answer (and the protocol's
    /// reading of it), classifies and reports the outcome, and decides whether the call goes on.
    /// </summary>
    internal async ValueTask<Outcome<HttpResponseMessage>> CompleteAsync(AttemptCall call, AttemptStart attempt, Task<HttpResponseMessage> sent)
    {
        ServiceBalancer balancer = call.Balancer;
        BalancedEndpoint endpoint = attempt.Endpoint;
        HttpResponseMessage response;
        try
        {
            response = await call.ReadAnswerAsync(endpoint, await sent.ConfigureAwait(false)).ConfigureAwait(false);
        }
        catch (Exception ex) when (AttemptFailure.Classify(ex, call.CancellationToken) != AttemptFailureKind.CallerCancelled)
        {
            endpoint.OnRequestEnd();
            AttemptVerdict failedVerdict = Failed(balancer, attempt, ex, out Exception failure);
            attempt.Span?.Dispose();
            Outcome<HttpResponseMessage> failed = Outcome.FromException<HttpResponseMessage>(failure);
            call.Decide(failedVerdict, failed);
            return failed;
        }
        catch
        {
            endpoint.OnRequestEnd();
            attempt.Span?.Dispose();
            throw;
        }
        AttemptVerdict verdict = Answered(balancer, attempt, response);
        attempt.Span?.Dispose();
        Outcome<HttpResponseMessage> answered = Outcome.FromResult(response);
        if (call.Decide(verdict, answered) == AttemptCall.NextStep.None)
        {
            return Outcome.FromResult(call.Deliver(response, endpoint));
        }
        // Not the caller's answer: its exchange is over.
        endpoint.OnRequestEnd();
        return answered;
    }

    private static Activity? StartActivity(BalancedEndpoint endpoint, int attempt)
    {
        Activity? activity = ClientLbActivity.Source.StartActivity("ClientLb.Attempt", ActivityKind.Internal);
        activity?.SetTag(ClientLbActivity.ServiceTag, endpoint.ServiceId);
        activity?.SetTag(ClientLbActivity.EndpointTag, endpoint.Endpoint.Authority);
        activity?.SetTag(ClientLbActivity.AttemptTag, attempt);
        return activity;
    }
}
