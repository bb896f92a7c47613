using System.Diagnostics;
using System.Runtime.ExceptionServices;
using ClientLb.Diagnostics;
using ClientLb.Endpoints;
using ClientLb.LoadBalancing;
using ClientLb.Names;
using ClientLb.Registry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
using System.Net.Http.Headers;
using Polly.Hedging;
using Polly.Retry;

namespace ClientLb.Http;

/// <summary>
/// The HttpClient primary handler: for each request it finds the service named by the request's host, picks an
/// endpoint, and sends the request over that endpoint's own connection pool. The URI is left as it is, so the
/// Host header and TLS SNI stay the logical service name. Attempts that fail safely are retried once on another
/// endpoint (Polly).
/// </summary>
public sealed class ClientLbHttpHandler : HttpMessageHandler
{
    private static readonly ResiliencePropertyKey<RetryState> StateKey = new("clientlb.retry");
    private static readonly ResiliencePropertyKey<HedgeState> HedgeKey = new("clientlb.hedge");

    private readonly ServiceRegistry _registry;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline<HttpResponseMessage>? _retry;
    private readonly Func<Endpoint, EndpointTransport> _createTransport;
    private readonly TimeSpan _initialResolutionTimeout;
    private readonly TimeProvider _timeProvider;
    private readonly int _maxRetryAttempts;
    private readonly System.Runtime.CompilerServices.ConditionalWeakTable<HedgingOptions, ResiliencePipeline<HttpResponseMessage>> _hedging = [];
    private readonly ServiceBalancerLookup _lookup;

    /// <summary>Creates a handler that balances over the services of <paramref name="registry"/>.</summary>
    public ClientLbHttpHandler(ServiceRegistry registry, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        _registry = registry ?? throw new ArgumentNullException(nameof(registry));
        _lookup = new ServiceBalancerLookup(registry);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("ClientLb.Http");
        ClientLbOptions options = registry.Options;
        _initialResolutionTimeout = options.InitialResolutionTimeout;
        _timeProvider = timeProvider ?? registry.TimeProvider;
        _maxRetryAttempts = options.Retry.MaxRetryAttempts;
        Action<SocketsHttpHandler>? configure = options.ConfigureTransport;
        _createTransport = endpoint => new EndpointTransport(endpoint, configure);
        if (options.Retry.Enabled && options.Retry.MaxRetryAttempts > 0)
        {
            _retry = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = _timeProvider }
                .AddRetry(new RetryStrategyOptions<HttpResponseMessage>
                {
                    Name = "ClientLb.RetryOnAnotherEndpoint",
                    MaxRetryAttempts = options.Retry.MaxRetryAttempts,
                    Delay = TimeSpan.Zero,
                    BackoffType = DelayBackoffType.Constant,
                    UseJitter = false,
                    ShouldHandle = static args => new ValueTask<bool>(ShouldRetry(args.Context, args.Outcome)),
                    OnRetry = args => OnRetry(args),
                })
                .Build();
        }
    }

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ServiceBalancer balancer = _lookup.Get(request.RequestUri);
        ValueTask ready = balancer.EnsureReadyAsync(_initialResolutionTimeout, cancellationToken);
        if (!ready.IsCompletedSuccessfully)
        {
            await ready.ConfigureAwait(false);
        }
        Uri original = request.RequestUri!;
        try
        {
            if (balancer.Options.Hedging.Enabled && RetryClassifier.CanSendAgain(request))
            {
                return await HedgeAsync(balancer, request, original, cancellationToken).ConfigureAwait(false);
            }
            // The first attempt runs inline: the common case costs one pick and no resilience machinery.
            long start = balancer.OnAttemptStart();
            balancer.RetryBudget.Deposit(start);
            BalancedEndpoint endpoint = balancer.Pick(new PickContext(request));
            Outcome<HttpResponseMessage> outcome;
            string reason;
            Activity? span = BeginAttempt(balancer, request, original, endpoint, 0);
            try
            {
                HttpResponseMessage response = await Send(endpoint, request, cancellationToken).ConfigureAwait(false);
                EndAttempt(balancer, endpoint, start, span, response, null);
                if (_retry is null || !IsRetryable(balancer, endpoint, request, response, null, cancellationToken, out reason))
                {
                    return response;
                }
                outcome = Outcome.FromResult(response);
            }
            catch (Exception ex) when (AttemptFailure.Classify(ex, cancellationToken) != AttemptFailureKind.CallerCancelled)
            {
                Exception failure = AttemptFailure.Describe(ex, endpoint);
                EndAttempt(balancer, endpoint, start, span, null, failure);
                if (_retry is null || !IsRetryable(balancer, endpoint, request, null, failure, cancellationToken, out reason))
                {
                    if (ReferenceEquals(failure, ex))
                    {
                        throw;
                    }
                    throw failure;
                }
                outcome = Outcome.FromException<HttpResponseMessage>(failure);
            }
            finally
            {
                endpoint.OnRequestEnd();
                span?.Dispose();
            }
            if (!TryWithdraw(balancer, endpoint, reason))
            {
                // The budget is spent: the caller gets the failure as it was, not a retry that would add to an outage.
                outcome.ThrowIfException();
                return outcome.Result!;
            }
            return await RetryAsync(new RetryState(this, balancer, request, original, endpoint, outcome), cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            request.RequestUri = original;
        }
    }

    /// <summary>Releases the handler's leases on its services (HttpClientFactory disposes a handler when its lifetime is over).</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            // A rotated handler's successor leases the same balancers again: they linger for the idle-service timeout.
            _lookup.Dispose();
        }
        base.Dispose(disposing);
    }

    private bool TryWithdraw(ServiceBalancer balancer, BalancedEndpoint failed, string reason)
    {
        if (balancer.RetryBudget.TryWithdraw())
        {
            return true;
        }
        _registry.Metrics.BudgetExhausted(balancer.Service.Id);
        Log.RetryBudgetExhausted(_logger, balancer.Service.Id, failed.Endpoint.Authority, reason);
        return false;
    }

    // Only after a retryable failure: Polly's retry strategy runs, seeded with the failed first outcome, so it
    // decides (ShouldHandle), counts attempts and reports retries; each further attempt avoids the last endpoint.
    private async Task<HttpResponseMessage> RetryAsync(RetryState state, CancellationToken cancellationToken)
    {
        ResilienceContext context = ResilienceContextPool.Shared.Get(cancellationToken);
        try
        {
            context.Properties.Set(StateKey, state);
            Outcome<HttpResponseMessage> outcome = await _retry!.ExecuteOutcomeAsync(
                static (ctx, s) => s.NextAttemptAsync(ctx.CancellationToken), context, state).ConfigureAwait(false);
            if (outcome.Exception is Exception error)
            {
                ExceptionDispatchInfo.Throw(error);
            }
            return outcome.Result!;
        }
        finally
        {
            ResilienceContextPool.Shared.Return(context);
        }
    }

    private Activity? BeginAttempt(ServiceBalancer balancer, HttpRequestMessage request, Uri original, BalancedEndpoint endpoint, int attempt)
    {
        request.RequestUri = WithScheme(original, endpoint.Endpoint, balancer.Service);
        _registry.Metrics.Picked(endpoint);
        endpoint.OnRequestStart();
        // The attempt activity wraps the transport, so HttpClient's own request activity (created inside the
        // endpoint's SocketsHttpHandler) is its child: the chosen endpoint is on the request's parent span.
        return ClientLbActivity.Source.HasListeners() ? StartAttemptActivity(endpoint, attempt) : null;
    }

    // One attempt over the endpoint's pool; while it has no connection, the wait for one is bounded by the pool's connect
    // timeout for this request too (the pool times out only the request that started the connect).
    private Task<HttpResponseMessage> Send(BalancedEndpoint endpoint, HttpRequestMessage request, CancellationToken cancellationToken) =>
        endpoint.GetOrCreateTransport(_createTransport).SendAsync(request, Timeout.InfiniteTimeSpan, _timeProvider, cancellationToken);

    // Never called with the caller's own cancellation: that says nothing about the endpoint.
    private void EndAttempt(ServiceBalancer balancer, BalancedEndpoint endpoint, long start, Activity? span, HttpResponseMessage? response, Exception? error)
    {
        balancer.OnAttemptEnd(endpoint, start, response, error);
        if (error is not null)
        {
            _registry.Metrics.Failed(endpoint, AttemptFailure.Classify(error, CancellationToken.None) == AttemptFailureKind.NotSent ? "connection_error" : "transport_error");
            span?.SetStatus(ActivityStatusCode.Error, error.Message);
        }
        else if ((int)response!.StatusCode >= 500)
        {
            _registry.Metrics.Failed(endpoint, "status_5xx");
        }
    }

    private static bool IsRetryable(ServiceBalancer balancer, BalancedEndpoint? failed, HttpRequestMessage request, HttpResponseMessage? response, Exception? error,
        CancellationToken callerToken, out string reason)
    {
        reason = "";
        return (failed is null ? balancer.EligibleCount > 1 : balancer.HasOtherEndpoint(failed)) && RetryClassifier.IsRetryable(response, error, request, callerToken, out reason);
    }

    // One further attempt (a retry or a hedge) on a picked endpoint, as an outcome for Polly. The first attempt is
    // the same steps inlined in SendAsync, to keep the common path free of this extra state machine.
    private async ValueTask<Outcome<HttpResponseMessage>> SendAttemptAsync(ServiceBalancer balancer, HttpRequestMessage message, Uri original,
        BalancedEndpoint endpoint, long start, int attempt, CancellationToken cancellationToken)
    {
        Activity? span = BeginAttempt(balancer, message, original, endpoint, attempt);
        try
        {
            HttpResponseMessage response = await Send(endpoint, message, cancellationToken).ConfigureAwait(false);
            EndAttempt(balancer, endpoint, start, span, response, null);
            return Outcome.FromResult(response);
        }
        catch (Exception ex)
        {
            if (AttemptFailure.Classify(ex, cancellationToken) == AttemptFailureKind.CallerCancelled)
            {
                return Outcome.FromException<HttpResponseMessage>(ex);
            }
            Exception failure = AttemptFailure.Describe(ex, endpoint);
            EndAttempt(balancer, endpoint, start, span, null, failure);
            return Outcome.FromException<HttpResponseMessage>(failure);
        }
        finally
        {
            endpoint.OnRequestEnd();
            span?.Dispose();
        }
    }

    /// <summary>What the retry path carries between attempts (allocated only when a first attempt failed).</summary>
    private sealed class RetryState(ClientLbHttpHandler handler, ServiceBalancer balancer, HttpRequestMessage request, Uri original, BalancedEndpoint first, Outcome<HttpResponseMessage> firstOutcome)
    {
        private bool _seedConsumed;

        public ClientLbHttpHandler Handler => handler;

        public ServiceBalancer Balancer { get; } = balancer;

        public HttpRequestMessage Request { get; } = request;

        public BalancedEndpoint Last { get; private set; } = first;

        public int Attempt { get; private set; }

        public async ValueTask<Outcome<HttpResponseMessage>> NextAttemptAsync(CancellationToken cancellationToken)
        {
            if (!_seedConsumed)
            {
                _seedConsumed = true;
                return firstOutcome;
            }
            Attempt++;
            BalancedEndpoint endpoint;
            try
            {
                endpoint = Balancer.Pick(new PickContext(Request, Last));
            }
            catch (NoEndpointsException ex)
            {
                return Outcome.FromException<HttpResponseMessage>(ex);
            }
            Last = endpoint;
            return await handler.SendAttemptAsync(Balancer, Request, original, endpoint, Balancer.OnAttemptStart(), Attempt, cancellationToken).ConfigureAwait(false);
        }
    }

    private static Activity? StartAttemptActivity(BalancedEndpoint endpoint, int attempt)
    {
        Activity? activity = ClientLbActivity.Source.StartActivity("ClientLb.Attempt", ActivityKind.Internal);
        activity?.SetTag(ClientLbActivity.ServiceTag, endpoint.ServiceId);
        activity?.SetTag(ClientLbActivity.EndpointTag, endpoint.Endpoint.Authority);
        activity?.SetTag(ClientLbActivity.AttemptTag, attempt);
        return activity;
    }

    // The first failure was classified and paid for from the budget before the pipeline was entered; later ones pay here,
    // unless no attempt is left (Polly asks about the last outcome too, and a token must not be spent on it).
    private static bool ShouldRetry(ResilienceContext context, Outcome<HttpResponseMessage> outcome) =>
        context.Properties.TryGetValue(StateKey, out RetryState? state) &&
        (state.Attempt == 0 || (state.Attempt < state.Handler._maxRetryAttempts && IsRetryable(state.Balancer, state.Last, state.Request, outcome.Result, outcome.Exception, context.CancellationToken, out string reason) &&
                                state.Handler.TryWithdraw(state.Balancer, state.Last, reason)));

    private ValueTask OnRetry(OnRetryArguments<HttpResponseMessage> args)
    {
        // The failed response is not returned to the caller: release its connection before the next attempt.
        args.Outcome.Result?.Dispose();
        if (args.Context.Properties.TryGetValue(StateKey, out RetryState? state))
        {
            RetryClassifier.IsRetryable(args.Outcome.Result, args.Outcome.Exception, state.Request, args.Context.CancellationToken, out string reason);
            _registry.Metrics.Retried(state.Balancer.Service.Id);
            Log.Retrying(_logger, state.Balancer.Service.Id, args.AttemptNumber, state.Last.Endpoint.Authority, reason);
        }
        return ValueTask.CompletedTask;
    }

    // The request's own scheme unless the endpoint demands another, or the URI names a preference list (https+http).
    private static Uri WithScheme(Uri original, Endpoint target, ServiceName service)
    {
        string scheme = original.Scheme;
        string wanted = target.Scheme ?? (scheme is "http" or "https" ? scheme : service.Schemes.FirstOrDefault(s => s is "http" or "https")
            ?? throw new NotSupportedException($"The request URI '{original}' has the scheme '{scheme}'; ClientLb sends http and https (or a preference list such as https+http)."));
        if (ReferenceEquals(wanted, scheme) || wanted == scheme)
        {
            return original;
        }
        var builder = new UriBuilder(original) { Scheme = wanted, Port = original.IsDefaultPort || original.Port < 0 ? -1 : original.Port };
        return builder.Uri;
    }

    // Hedging (opt-in per service, idempotent requests with a replayable body): Polly's hedging strategy launches another
    // attempt on another endpoint when the first has not answered within the delay, or at once when it failed in a
    // retryable way; the first acceptable answer wins, the others are cancelled and their responses disposed.
    private async Task<HttpResponseMessage> HedgeAsync(ServiceBalancer balancer, HttpRequestMessage request, Uri original, CancellationToken cancellationToken)
    {
        HedgingOptions options = balancer.Options.Hedging;
        if (!_hedging.TryGetValue(options, out ResiliencePipeline<HttpResponseMessage>? pipeline))
        {
            pipeline = _hedging.GetValue(options, CreateHedgingPipeline);
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

    private ResiliencePipeline<HttpResponseMessage> CreateHedgingPipeline(HedgingOptions options) =>
        new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = _timeProvider }
            .AddHedging(new HedgingStrategyOptions<HttpResponseMessage>
            {
                Name = "ClientLb.Hedging",
                MaxHedgedAttempts = options.MaxHedgedAttempts,
                Delay = options.Delay,
                ShouldHandle = static args => new ValueTask<bool>(
                    args.Context.Properties.TryGetValue(HedgeKey, out HedgeState? state) &&
                    IsRetryable(state.Balancer, state.Last, state.Request, args.Outcome.Result, args.Outcome.Exception, args.Context.CancellationToken, out _)),
                ActionGenerator = static args =>
                {
                    // Every hedge is extra load: it is paid from the same budget as retries.
                    if (!args.PrimaryContext.Properties.TryGetValue(HedgeKey, out HedgeState? state) ||
                        !state.Handler.TryWithdraw(state.Balancer, state.Last ?? throw new InvalidOperationException("A hedge before any attempt."), "hedge"))
                    {
                        return null;
                    }
                    state.Handler._registry.Metrics.Hedged(state.Balancer.Service.Id);
                    Log.Hedging(state.Handler._logger, state.Balancer.Service.Id, args.AttemptNumber, state.Last.Endpoint.Authority);
                    return () => args.Callback(args.ActionContext);
                },
            })
            .Build();

    /// <summary>One hedged request: attempts run concurrently, each on its own copy of the request after the first.</summary>
    private sealed class HedgeState(ClientLbHttpHandler handler, ServiceBalancer balancer, HttpRequestMessage request, Uri original)
    {
        private int _attempts;
        private BalancedEndpoint? _last;

        public ClientLbHttpHandler Handler { get; } = handler;

        public ServiceBalancer Balancer { get; } = balancer;

        public HttpRequestMessage Request { get; } = request;

        public BalancedEndpoint? Last => Volatile.Read(ref _last);

        public async ValueTask<Outcome<HttpResponseMessage>> AttemptAsync(CancellationToken cancellationToken)
        {
            int attempt = Interlocked.Increment(ref _attempts) - 1;
            // Concurrent sends must not share one HttpRequestMessage (its URI and headers are per attempt); the body is
            // replayable (checked before hedging), so copies share it.
            HttpRequestMessage message = attempt == 0 ? Request : Copy(Request, original);
            long start = Balancer.OnAttemptStart();
            if (attempt == 0)
            {
                Balancer.RetryBudget.Deposit(start);
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
            return await Handler.SendAttemptAsync(Balancer, message, original, endpoint, start, attempt, cancellationToken).ConfigureAwait(false);
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
