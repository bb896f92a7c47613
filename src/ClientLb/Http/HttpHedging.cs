using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using ClientLb.Attempts;
using ClientLb.Balancing;
using ClientLb.Diagnostics;
using Microsoft.Extensions.Logging;
using Polly;
using Polly.Hedging;

namespace ClientLb.Http;

/// <summary>
/// Hedging (opt-in per service, idempotent requests with a replayable body): Polly's hedging strategy launches another
/// attempt on another endpoint when the first has not answered within the delay, or at once when it failed in a retryable
/// way; the first acceptable answer wins, the others are cancelled and their responses disposed. Each attempt is one step
/// of the shared attempt model (<see cref="AttemptLoop"/>).
/// </summary>
internal sealed class HttpHedging
{
    private static readonly ResiliencePropertyKey<HedgeState> HedgeKey = new("clientlb.hedge");
    private readonly ConditionalWeakTable<HedgingOptions, ResiliencePipeline<HttpResponseMessage>> _pipelines = [];
    private readonly AttemptLoop _attempts;
    private readonly ClientLbMetrics _metrics;
    private readonly ILogger _logger;

    public HttpHedging(AttemptLoop attempts, ClientLbMetrics metrics, ILogger logger)
    {
        _attempts = attempts;
        _metrics = metrics;
        _logger = logger;
    }

    public async Task<HttpResponseMessage> SendAsync(ServiceBalancer balancer, HttpRequestMessage request, Uri original, CancellationToken cancellationToken)
    {
        HedgingOptions options = balancer.Options.Hedging;
        if (!_pipelines.TryGetValue(options, out ResiliencePipeline<HttpResponseMessage>? pipeline))
        {
            pipeline = _pipelines.GetValue(options, CreatePipeline);
        }
        var state = new HedgeState(this, balancer, request, original);
        ResilienceContext context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            context.Properties.Set(HedgeKey, state);
            Outcome<HttpResponseMessage> outcome = await pipeline.ExecuteOutcomeAsync(
                static (ctx, s) => s.AttemptAsync(ctx.CancellationToken), context, state).ConfigureAwait(false);
            outcome.ThrowIfException();
            HttpResponseMessage response = outcome.Result!;
            // A hedged attempt sent a copy of the request; the caller sees its own.
            response.RequestMessage = request;
            return response;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private ResiliencePipeline<HttpResponseMessage> CreatePipeline(HedgingOptions options) =>
        new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = _attempts.TimeProvider }
            .AddHedging(new HedgingStrategyOptions<HttpResponseMessage>
            {
                Name = "ClientLb.Hedging",
                MaxHedgedAttempts = options.MaxHedgedAttempts,
                Delay = options.Delay,
                ShouldHandle = static args => new ValueTask<bool>(
                    args.Context.Properties.TryGetValue(HedgeKey, out HedgeState? state) && state.Last is BalancedEndpoint last &&
                    state.Owner._attempts.CanGoElsewhere(state.Balancer, state.Request, last, Classify(state.Owner._attempts, args.Outcome))),
                ActionGenerator = static args =>
                {
                    // Every hedge is extra load: it is paid from the same budget as retries.
                    if (!args.PrimaryContext.Properties.TryGetValue(HedgeKey, out HedgeState? state) ||
                        !state.Owner._attempts.TryWithdraw(state.Balancer, state.Last ?? throw new InvalidOperationException("A hedge before any attempt."), "hedge", state.Request.Method.Method))
                    {
                        return null;
                    }
                    state.Owner._metrics.Hedged(state.Balancer.Service.Id);
                    Log.Hedging(state.Owner._logger, state.Balancer.Service.Id, args.AttemptNumber, state.Last.Endpoint.Authority);
                    return () => args.Callback(args.ActionContext);
                },
            })
            .Build();

    private static AttemptVerdict Classify(AttemptLoop attempts, Outcome<HttpResponseMessage> outcome) =>
        outcome.Exception is Exception error ? AttemptClassifier.ClassifyFailure(error) : attempts.Classifier.ClassifyAnswer(outcome.Result!);

    /// <summary>One hedged request: attempts run concurrently, each on its own copy of the request after the first.</summary>
    private sealed class HedgeState(HttpHedging owner, ServiceBalancer balancer, HttpRequestMessage request, Uri original)
    {
        private int _attempts;
        private BalancedEndpoint? _last;

        public HttpHedging Owner { get; } = owner;

        public ServiceBalancer Balancer { get; } = balancer;

        public HttpRequestMessage Request { get; } = request;

        public BalancedEndpoint? Last => Volatile.Read(ref _last);

        public async ValueTask<Outcome<HttpResponseMessage>> AttemptAsync(CancellationToken cancellationToken)
        {
            int attempt = Interlocked.Increment(ref _attempts) - 1;
            // Concurrent sends must not share one HttpRequestMessage (its URI and headers are per attempt); the body is
            // replayable (checked before hedging), so copies share it.
            HttpRequestMessage message = attempt == 0 ? Request : Copy(Request, original);
            AttemptLoop attempts = Owner._attempts;
            long now = Balancer.OnAttemptStart();
            if (attempt == 0)
            {
                Balancer.RetryBudget.Deposit(now);
            }
            BalancedEndpoint endpoint;
            try
            {
                endpoint = Balancer.Pick(new PickContext(message, Last));
            }
            catch (NoEndpointsException ex)
            {
                return Outcome.FromException<HttpResponseMessage>(ex);
            }
            Volatile.Write(ref _last, endpoint);
            Task<HttpResponseMessage> sent = attempts.Start(Balancer, message, original, endpoint, now, attempt, Timeout.InfiniteTimeSpan, cancellationToken, out AttemptStart started);
            try
            {
                HttpResponseMessage response = await sent.ConfigureAwait(false);
                attempts.Answered(Balancer, started, response);
                return Outcome.FromResult(response);
            }
            catch (Exception ex) when (AttemptFailure.Classify(ex, cancellationToken) != AttemptFailureKind.CallerCancelled)
            {
                attempts.Failed(Balancer, started, ex, out Exception failure);
                return Outcome.FromException<HttpResponseMessage>(failure);
            }
            catch (Exception ex)
            {
                return Outcome.FromException<HttpResponseMessage>(ex);
            }
            finally
            {
                endpoint.OnRequestEnd();
                started.Span?.Dispose();
            }
        }

        private static HttpRequestMessage Copy(HttpRequestMessage request, Uri original)
        {
            var copy = new HttpRequestMessage(request.Method, original)
            {
                Version = request.Version,
                VersionPolicy = request.VersionPolicy,
                Content = request.Content,
            };
            foreach (KeyValuePair<string, HeaderStringValues> header in request.Headers.NonValidated)
            {
                copy.Headers.TryAddWithoutValidation(header.Key, header.Value);
            }
            foreach (KeyValuePair<string, object?> option in request.Options)
            {
                ((IDictionary<string, object?>)copy.Options)[option.Key] = option.Value;
            }
            return copy;
        }
    }
}
