using System.Diagnostics;
using System.Runtime.ExceptionServices;
using ClientLb.Diagnostics;
using ClientLb.Endpoints;
using ClientLb.LoadBalancing;
using ClientLb.ServiceDiscovery;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Polly;
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
    private static readonly ResiliencePropertyKey<HttpRequestMessage> RequestKey = new("clientlb.request");
    private static readonly ResiliencePropertyKey<ServiceBalancer> BalancerKey = new("clientlb.balancer");
    private static readonly ResiliencePropertyKey<BalancedEndpoint> LastEndpointKey = new("clientlb.endpoint");
    private static readonly ResiliencePropertyKey<int> AttemptKey = new("clientlb.attempt");

    private readonly ServiceRegistry _registry;
    private readonly ILogger _logger;
    private readonly ResiliencePipeline<HttpResponseMessage>? _retry;
    private readonly Func<Endpoint, EndpointTransport> _createTransport;
    private readonly TimeSpan _initialResolutionTimeout;
    private CachedService[] _cache = [];

    /// <summary>Creates a handler that balances over the services of <paramref name="registry"/>.</summary>
    public ClientLbHttpHandler(ServiceRegistry registry, ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        _registry = registry ?? throw new ArgumentNullException(nameof(registry));
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("ClientLb.Http");
        ClientLbOptions options = registry.Options;
        _initialResolutionTimeout = options.InitialResolutionTimeout;
        Action<SocketsHttpHandler>? configure = options.ConfigureTransport;
        _createTransport = endpoint => new EndpointTransport(endpoint, configure);
        if (options.Retry.Enabled && options.Retry.MaxRetryAttempts > 0)
        {
            _retry = new ResiliencePipelineBuilder<HttpResponseMessage> { TimeProvider = timeProvider ?? TimeProvider.System }
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
        ServiceBalancer balancer = GetBalancer(request);
        await balancer.EnsureReadyAsync(_initialResolutionTimeout, cancellationToken).ConfigureAwait(false);
        Uri original = request.RequestUri!;
        try
        {
            if (_retry is null)
            {
                return await SendToAsync(balancer, request, original, balancer.Pick(new PickContext(request)), 0, cancellationToken).ConfigureAwait(false);
            }

            ResilienceContext context = ResilienceContextPool.Shared.Get(cancellationToken);
            try
            {
                context.Properties.Set(RequestKey, request);
                context.Properties.Set(BalancerKey, balancer);
                Outcome<HttpResponseMessage> outcome = await _retry.ExecuteOutcomeAsync(
                    static (ctx, state) => state.Item1.AttemptAsync(ctx, state.Item2, state.Item3, state.Item4),
                    context, (this, balancer, request, original)).ConfigureAwait(false);
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
        finally
        {
            request.RequestUri = original;
        }
    }

    private async ValueTask<Outcome<HttpResponseMessage>> AttemptAsync(ResilienceContext context, ServiceBalancer balancer, HttpRequestMessage request, Uri original)
    {
        try
        {
            context.Properties.TryGetValue(LastEndpointKey, out BalancedEndpoint? previous);
            BalancedEndpoint endpoint = balancer.Pick(new PickContext(request, previous));
            int attempt = context.Properties.GetValue(AttemptKey, 0);
            context.Properties.Set(LastEndpointKey, endpoint);
            HttpResponseMessage response = await SendToAsync(balancer, request, original, endpoint, attempt, context.CancellationToken).ConfigureAwait(false);
            return Outcome.FromResult(response);
        }
        catch (Exception ex)
        {
            return Outcome.FromException<HttpResponseMessage>(ex);
        }
    }

    private async Task<HttpResponseMessage> SendToAsync(ServiceBalancer balancer, HttpRequestMessage request, Uri original, BalancedEndpoint endpoint, int attempt, CancellationToken cancellationToken)
    {
        Endpoint target = endpoint.Endpoint;
        request.RequestUri = WithScheme(original, target, balancer.Service);
        _registry.Metrics.Picked(endpoint);
        // The attempt activity wraps the transport, so HttpClient's own request activity (created inside the
        // endpoint's SocketsHttpHandler) is its child: the chosen endpoint is on the request's parent span.
        using Activity? span = ClientLbActivity.Source.HasListeners() ? StartAttemptActivity(endpoint, attempt) : null;

        EndpointTransport transport = endpoint.GetOrCreateTransport(_createTransport);
        endpoint.OnRequestStart();
        try
        {
            HttpResponseMessage response = await transport.Invoker.SendAsync(request, cancellationToken).ConfigureAwait(false);
            if ((int)response.StatusCode >= 500)
            {
                _registry.Metrics.Failed(endpoint, "status_5xx");
            }
            return response;
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _registry.Metrics.Failed(endpoint, ex is HttpRequestException { HttpRequestError: HttpRequestError.ConnectionError } ? "connection_error" : "transport_error");
            span?.SetStatus(ActivityStatusCode.Error, ex.Message);
            throw;
        }
        finally
        {
            endpoint.OnRequestEnd();
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

    private static bool ShouldRetry(ResilienceContext context, Outcome<HttpResponseMessage> outcome)
    {
        if (outcome.Exception is OperationCanceledException || !context.Properties.TryGetValue(RequestKey, out HttpRequestMessage? request) ||
            !context.Properties.TryGetValue(BalancerKey, out ServiceBalancer? balancer) || balancer.EligibleCount < 2)
        {
            return false;
        }
        return RetryClassifier.IsRetryable(outcome.Result, outcome.Exception, request, out _);
    }

    private ValueTask OnRetry(OnRetryArguments<HttpResponseMessage> args)
    {
        // The failed response is not returned to the caller: release its connection before the next attempt.
        args.Outcome.Result?.Dispose();
        args.Context.Properties.Set(AttemptKey, args.AttemptNumber + 1);
        if (args.Context.Properties.TryGetValue(BalancerKey, out ServiceBalancer? balancer) &&
            args.Context.Properties.TryGetValue(LastEndpointKey, out BalancedEndpoint? endpoint) &&
            args.Context.Properties.TryGetValue(RequestKey, out HttpRequestMessage? request))
        {
            RetryClassifier.IsRetryable(args.Outcome.Result, args.Outcome.Exception, request, out string reason);
            _registry.Metrics.Retried(balancer.Service.Id);
            Log.Retrying(_logger, balancer.Service.Id, args.AttemptNumber, endpoint.Endpoint.Authority, reason);
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

    // The hot path: a short array of (scheme, host, port) -> balancer, scanned without locks or allocation.
    private ServiceBalancer GetBalancer(HttpRequestMessage request)
    {
        Uri? uri = request.RequestUri;
        if (uri is null || !uri.IsAbsoluteUri)
        {
            throw new InvalidOperationException($"ClientLb needs an absolute request URI that names the service, such as 'http://payments/orders' (got '{uri}'). Set HttpClient.BaseAddress to the service URL.");
        }
        string host = uri.Host;
        string scheme = uri.Scheme;
        int port = uri.Port;
        foreach (CachedService entry in Volatile.Read(ref _cache))
        {
            if (entry.Port == port && string.Equals(entry.Host, host, StringComparison.Ordinal) && string.Equals(entry.Scheme, scheme, StringComparison.Ordinal))
            {
                return entry.Balancer;
            }
        }
        return Resolve(uri);
    }

    private ServiceBalancer Resolve(Uri uri)
    {
        string name = uri.Scheme + "://" + uri.Host + (uri.IsDefaultPort || uri.Port < 0 ? "" : ":" + uri.Port.ToString(System.Globalization.CultureInfo.InvariantCulture));
        ServiceBalancer balancer = _registry.GetBalancer(ServiceName.Parse(name, _registry.Defaults));
        CachedService[] current = Volatile.Read(ref _cache);
        // Keep the scan short; a client talking to many hosts still works, with the registry as the slow path.
        CachedService[] next = current.Length >= 16 ? [new CachedService(uri.Scheme, uri.Host, uri.Port, balancer), .. current[..15]] : [new CachedService(uri.Scheme, uri.Host, uri.Port, balancer), .. current];
        Volatile.Write(ref _cache, next);
        return balancer;
    }

    private sealed record CachedService(string Scheme, string Host, int Port, ServiceBalancer Balancer);
}
