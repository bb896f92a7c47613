using ClientLb.Attempts;
using ClientLb.Balancing;
using ClientLb.Names;
using ClientLb.Registry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;

namespace ClientLb.Http;

/// <summary>
/// The HttpClient primary handler: for each request it finds the service named by the request's host, picks an
/// endpoint, and sends the request over that endpoint's own connection pool. The URI is left as it is, so the
/// Host header and TLS SNI stay the logical service name. Attempts that fail safely are retried on another endpoint
/// (<see cref="AttemptLoop"/>, Polly's retry strategy); services that opt in are hedged (Polly's hedging strategy).
/// </summary>
public sealed class ClientLbHttpHandler : HttpMessageHandler
{
    private readonly AttemptLoop _attempts;
    private readonly HttpHedging _hedging;
    private readonly TimeSpan _initialResolutionTimeout;
    private readonly ServiceBalancerLookup _lookup;

    /// <summary>Creates a handler that balances over the services of <paramref name="registry"/>.</summary>
    public ClientLbHttpHandler(ServiceRegistry registry, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(registry);
        _lookup = new ServiceBalancerLookup(registry);
        ILogger logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("ClientLb.Http");
        ClientLbOptions options = registry.Options;
        _initialResolutionTimeout = options.InitialResolutionTimeout;
        TimeProvider time = timeProvider ?? registry.TimeProvider;
        int retries = options.Retry.Enabled ? options.Retry.MaxRetryAttempts : 0;
        _attempts = new AttemptLoop(HttpAttemptClassifier.Instance, retries, new EndpointTransports(options.ConfigureTransport, time), registry.Metrics, logger,
            time, traceAttempts: true);
        _hedging = new HttpHedging(_attempts, registry.Metrics, logger);
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
            if (balancer.Options.Hedging.Enabled && HttpAttemptClassifier.CanSendAgain(request))
            {
                return await _hedging.SendAsync(balancer, request, original, cancellationToken).ConfigureAwait(false);
            }
            // The first attempt runs inline: the common case costs one pick and no resilience machinery.
            long now = balancer.OnAttemptStart();
            balancer.RetryBudget.Deposit(now);
            BalancedEndpoint endpoint = balancer.Pick(new PickContext(request));
            Task<HttpResponseMessage> sent = _attempts.Start(balancer, request, original, endpoint, now, 0, Timeout.InfiniteTimeSpan, cancellationToken, out AttemptStart attempt);
            AttemptVerdict verdict;
            Outcome<HttpResponseMessage> outcome;
            try
            {
                HttpResponseMessage response = await sent.ConfigureAwait(false);
                verdict = _attempts.Answered(balancer, attempt, response);
                if (verdict.RetryReason is null)
                {
                    return response;
                }
                outcome = Outcome.FromResult(response);
            }
            catch (Exception ex) when (AttemptFailure.Classify(ex, cancellationToken) != AttemptFailureKind.CallerCancelled)
            {
                verdict = _attempts.Failed(balancer, attempt, ex, out Exception failure);
                if (verdict.RetryReason is null)
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
                attempt.Endpoint.OnRequestEnd();
                attempt.Span?.Dispose();
            }
            // A failure that another endpoint could take: the retry path, where Polly's retry strategy runs the attempts.
            var call = new AttemptCall(_attempts, balancer, request, original, cancellationToken, attempts: 1, last: attempt.Endpoint);
            call.Decide(verdict, outcome);
            return await _attempts.RetryAsync(call, outcome).ConfigureAwait(false);
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
}
