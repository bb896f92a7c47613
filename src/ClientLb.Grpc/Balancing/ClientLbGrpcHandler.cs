using System.Net.Http.Headers;
using System.Net;
using System.Runtime.ExceptionServices;
using ClientLb.Grpc.Configuration;
using ClientLb.Grpc.Diagnostics;
using ClientLb.Grpc.Health;
using ClientLb.Http;
using ClientLb.LoadBalancing;
using ClientLb.ServiceDiscovery;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClientLb.Grpc.Balancing;

/// <summary>
/// The HTTP handler for gRPC channels (<c>GrpcChannelOptions.HttpHandler</c>, or the primary handler of
/// <c>AddGrpcClient</c>): every call picks an endpoint of the service its address names and runs over that endpoint's
/// own HTTP/2 connections (h2c for http, h2 via ALPN for https; more connections when one's stream limit is reached). A
/// streaming call stays on its endpoint by construction. UNAVAILABLE and connection failures count against the endpoint
/// (ClientLb's passive health) and are retried on another endpoint when nothing was sent or the method is idempotent,
/// within the call's <c>grpc-timeout</c>; every other status passes through untouched.
/// </summary>
public sealed class ClientLbGrpcHandler : HttpMessageHandler
{
    private readonly ServiceRegistry _registry;
    private readonly EndpointTransports _transports;
    private readonly MethodSet _idempotent;
    private readonly MethodSet _unary;
    private readonly int _maxRetries;
    private readonly int _replayLimit;
    private readonly GrpcHealthMonitor? _health;
    private readonly bool _ownsHealth;
    private readonly ILogger _logger;
    private readonly ServiceBalancerLookup _lookup;
    // The request option grpc-dotnet sets for CallOptions.WithWaitForReady() (Grpc.Net.Client's BalancerHttpHandler.WaitForReadyKey).
    private static readonly HttpRequestOptionsKey<bool> WaitForReadyKey = new("WaitForReady");

    /// <summary>Creates a handler over <paramref name="registry"/>'s services; it runs its own health checks if <paramref name="options"/> asks for any.</summary>
    /// <exception cref="Microsoft.Extensions.Options.OptionsValidationException">The options are invalid (each fault is named).</exception>
    public ClientLbGrpcHandler(ServiceRegistry registry, ClientLbGrpcOptions? options = null, ILoggerFactory? loggerFactory = null)
        : this(registry, options ?? new ClientLbGrpcOptions(), null, loggerFactory)
    {
    }

    /// <summary>Creates a handler that shares <paramref name="health"/> (one monitor per process, as dependency injection registers it).</summary>
    internal ClientLbGrpcHandler(ServiceRegistry registry, ClientLbGrpcOptions options, GrpcHealthMonitor? health, ILoggerFactory? loggerFactory)
    {
        _registry = registry ?? throw new ArgumentNullException(nameof(registry));
        ArgumentNullException.ThrowIfNull(options);
        var validation = new ClientLbGrpcOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException(ClientLbGrpcOptions.SectionName, typeof(ClientLbGrpcOptions), validation.Failures);
        }
        loggerFactory ??= NullLoggerFactory.Instance;
        _logger = loggerFactory.CreateLogger("ClientLb.Grpc");
        _transports = new EndpointTransports(registry.Options.ConfigureTransport, registry.TimeProvider);
        _idempotent = new MethodSet(options.IdempotentMethods);
        _unary = new MethodSet(options.UnaryMethods);
        _maxRetries = options.MaxRetryAttempts;
        _replayLimit = options.MaxReplayBufferBytes;
        if (health is null && options.HealthChecks.Values.Any(c => c.Enabled))
        {
            health = new GrpcHealthMonitor(registry, options, loggerFactory);
            _ownsHealth = true;
        }
        _health = health;
        // A newly seen service gets active health checks (when configured) against the authority it was called on.
        _lookup = new ServiceBalancerLookup(registry, health is null ? null : (balancer, uri) => health.Watch(balancer, new Uri(uri.GetLeftPart(UriPartial.Authority))));
    }

    /// <summary>The health monitor whose verdicts this handler's services follow, if any service has active checks.</summary>
    public GrpcHealthMonitor? HealthMonitor => _health;

    /// <inheritdoc />
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        string method = PrepareCall(request);
        Uri original = request.RequestUri!;
        ServiceBalancer balancer;
        try
        {
            balancer = _lookup.Get(original);
            ValueTask ready = balancer.EnsureReadyAsync(_registry.Options.InitialResolutionTimeout, cancellationToken);
            if (!ready.IsCompletedSuccessfully)
            {
                await ready.ConfigureAwait(false);
            }
        }
        catch (Exception ex) when (ex is NoEndpointsException or ServiceNameFormatException or ServiceNotFoundException)
        {
            throw Unavailable(ex);
        }
        TimeProvider time = _registry.TimeProvider;
        long callStart = time.GetTimestamp();
        TimeSpan? timeout = ReadTimeout(request, method);
        bool idempotent = _idempotent.Contains(method);
        CallContent? content = null;
        // The body is kept only where a retry may send it again after it went out: an idempotent method. Any other call
        // is retried only when it was not sent (no connection), and then its own body was never read.
        if (_maxRetries > 0 && idempotent && _replayLimit > 0 && request.Content is HttpContent body)
        {
            content = new CallContent(body, _replayLimit);
            request.Content = content;
        }
        balancer.RetryBudget.Deposit(callStart);

        HttpResponseMessage? failedResponse = null;
        ExceptionDispatchInfo? failedError = null;
        BalancedEndpoint? failed = null;
        int waits = 0;
        try
        {
            for (int attempt = 0; ; attempt++)
            {
                BalancedEndpoint endpoint;
                Task pickerChanged = balancer.PickerChanged;
                try
                {
                    endpoint = balancer.Pick(failed is null ? new PickContext(request) : new PickContext(request, failed));
                }
                catch (NoEndpointsException ex)
                {
                    if (WaitsForReady(request))
                    {
                        // Wait-for-ready: an endpoint may become eligible before the deadline (the caller's token).
                        await pickerChanged.WaitAsync(cancellationToken).ConfigureAwait(false);
                        attempt--;
                        continue;
                    }
                    if (failedResponse is not null || failedError is not null)
                    {
                        // Nowhere else to go: the caller gets the failure it had.
                        return Outcome(failedResponse, failedError);
                    }
                    throw Unavailable(ex);
                }
                if (attempt > 0)
                {
                    failedResponse?.Dispose();
                    failedResponse = null;
                    failedError = null;
                    if (timeout is TimeSpan t)
                    {
                        // The server of this attempt gets what is left of the call's deadline.
                        request.Headers.Remove(DeadlineHeader.Name);
                        request.Headers.TryAddWithoutValidation(DeadlineHeader.Name, DeadlineHeader.Format(t - time.GetElapsedTime(callStart)));
                    }
                }
                request.RequestUri = EndpointUri.For(original, endpoint.Endpoint, balancer.Service);
                long start = balancer.StartAttempt(endpoint);
                HttpResponseMessage response;
                try
                {
                    response = await _transports.SendAsync(endpoint, request, ConnectBound(balancer, timeout, callStart), cancellationToken).ConfigureAwait(false);
                }
                catch (Exception raw)
                {
                    endpoint.OnRequestEnd();
                    AttemptFailureKind kind = AttemptFailure.Classify(raw, cancellationToken);
                    if (kind == AttemptFailureKind.CallerCancelled)
                    {
                        throw;
                    }
                    Exception ex = AttemptFailure.Describe(raw, endpoint);
                    balancer.EndAttempt(endpoint, start, null, ex);
                    bool notSent = kind == AttemptFailureKind.NotSent;
                    string reason = notSent ? "connection_error" : "transport_error";
                    _registry.Metrics.Failed(endpoint, reason);
                    failedError = ExceptionDispatchInfo.Capture(ex);
                    failed = endpoint;
                    if (ShouldRetry(balancer, method, endpoint, attempt, ex is HttpRequestException or IOException, notSent, content, idempotent, timeout, callStart, reason))
                    {
                        continue;
                    }
                    if (notSent && WaitsForReady(request))
                    {
                        // Wait-for-ready: no endpoint could take the call yet; try again after a short backoff, or at once
                        // when the picker changes, until the deadline.
                        await WaitToRetryAsync(pickerChanged, waits++, time, cancellationToken).ConfigureAwait(false);
                        continue;
                    }
                    if (ReferenceEquals(ex, raw))
                    {
                        throw;
                    }
                    throw ex;
                }

                // A status in the headers means the call is over (trailers-only, or an HTTP error a proxy answered).
                StatusCode? status = CallStatus.OfHeaders(response);
                bool ended = status is not null;
                byte[]? prefix = null;
                if (!ended && idempotent && _unary.Contains(method))
                {
                    ResponseReadAhead.Result ahead = await ResponseReadAhead.ReadAsync(response, _replayLimit, cancellationToken).ConfigureAwait(false);
                    if (ahead.Error is Exception lost)
                    {
                        // The connection went away mid-answer: the call may have run, and the method says that is fine.
                        endpoint.OnRequestEnd();
                        response.Dispose();
                        if (AttemptFailure.Classify(lost, cancellationToken) == AttemptFailureKind.CallerCancelled)
                        {
                            ExceptionDispatchInfo.Throw(lost);
                        }
                        Exception described = AttemptFailure.Describe(lost, endpoint);
                        balancer.EndAttempt(endpoint, start, null, described);
                        _registry.Metrics.Failed(endpoint, "transport_error");
                        if (!ShouldRetry(balancer, method, endpoint, attempt, true, false, content, idempotent, timeout, callStart, "transport_error"))
                        {
                            ExceptionDispatchInfo.Throw(described);
                        }
                        failedError = ExceptionDispatchInfo.Capture(described);
                        failed = endpoint;
                        continue;
                    }
                    if (ahead.Complete)
                    {
                        ended = true;
                        response.Content = ResponseReadAhead.Buffered(response.Content, ahead.Body);
                        status = CallStatus.Read(response.TrailingHeaders);
                    }
                    else
                    {
                        prefix = ahead.Body;
                    }
                }
                bool unavailable = status == StatusCode.Unavailable;
                balancer.EndAttempt(endpoint, start, response, null, unavailable);
                if (!ended)
                {
                    response.Content = new CallResponseContent(response.Content, endpoint, prefix);
                    return response;
                }
                endpoint.OnRequestEnd();
                if (unavailable)
                {
                    _registry.Metrics.Failed(endpoint, "grpc_unavailable");
                    if (ShouldRetry(balancer, method, endpoint, attempt, true, false, content, idempotent, timeout, callStart, "grpc_unavailable"))
                    {
                        failedResponse = response;
                        failed = endpoint;
                        continue;
                    }
                }
                return response;
            }
        }
        catch
        {
            failedResponse?.Dispose();
            throw;
        }
        finally
        {
            request.RequestUri = original;
        }
    }

    // grpc-dotnet marks a call made with CallOptions.WithWaitForReady() on the request. Read on failure paths only: reading
    // HttpRequestMessage.Options creates its dictionary, which grpc-dotnet leaves unallocated for other calls.
    private static bool WaitsForReady(HttpRequestMessage request) => request.Options.TryGetValue(WaitForReadyKey, out bool wait) && wait;

    // Where another endpoint could take the call, the wait for a connection is bounded by half of what is left of the
    // deadline (and by the pool's connect timeout), so a connect that never completes leaves time for the retry.
    private TimeSpan ConnectBound(ServiceBalancer balancer, TimeSpan? timeout, long callStart)
    {
        if (timeout is not TimeSpan t || balancer.EligibleCount < 2 || _maxRetries == 0)
        {
            return Timeout.InfiniteTimeSpan;
        }
        TimeSpan left = t - _registry.TimeProvider.GetElapsedTime(callStart);
        return left > TimeSpan.Zero ? left / 2 : TimeSpan.Zero;
    }

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

    // grpc-dotnet keeps the status of an RpcException thrown by the handler: UNAVAILABLE with ClientLb's reason.
    private static RpcException Unavailable(Exception reason) => new(new Status(StatusCode.Unavailable, reason.Message, reason));

    private static HttpResponseMessage Outcome(HttpResponseMessage? response, ExceptionDispatchInfo? error)
    {
        error?.Throw();
        return response!;
    }

    // The call may go elsewhere when: retries are left, another endpoint exists, the deadline has not passed, the budget
    // allows it, and its body can be sent (again): nothing was sent yet, or the method is idempotent and its body either
    // never started (the connection died before it, e.g. while the headers were written) or was kept.
    private bool ShouldRetry(ServiceBalancer balancer, string method, BalancedEndpoint endpoint, int attempt, bool retryableFailure,
        bool notProcessed, CallContent? content, bool idempotent, TimeSpan? timeout, long callStart, string reason)
    {
        if (!retryableFailure || attempt >= _maxRetries || !balancer.HasOtherEndpoint(endpoint))
        {
            return false;
        }
        if (timeout is TimeSpan t && _registry.TimeProvider.GetElapsedTime(callStart) >= t)
        {
            return false;
        }
        // Not sent: the body was never read (with or without a kept copy). Maybe sent: an idempotent call whose wrapped body
        // was never read (so it can still be sent) or was kept whole.
        bool canSend = notProcessed ? content is null or { Started: false } or { CanReplay: true } : idempotent && content is ({ Started: false } or { CanReplay: true });
        if (!canSend)
        {
            return false;
        }
        if (!balancer.RetryBudget.TryWithdraw())
        {
            _registry.Metrics.BudgetExhausted(balancer.Service.Id);
            Log.RetryBudgetExhausted(_logger, balancer.Service.Id, method, reason, endpoint.Endpoint.Authority);
            return false;
        }
        _registry.Metrics.Retried(balancer.Service.Id);
        Log.Retrying(_logger, balancer.Service.Id, method, attempt + 1, reason, endpoint.Endpoint.Authority);
        return true;
    }

    // Checks the request is a gRPC call and makes it HTTP/2: gRPC is defined over HTTP/2 only (h2c needs prior knowledge,
    // so the version is exact unless the caller allows higher). Returns the method path.
    private static string PrepareCall(HttpRequestMessage request)
    {
        Uri? uri = request.RequestUri;
        if (uri is null || !uri.IsAbsoluteUri)
        {
            throw new InvalidOperationException($"ClientLb needs an absolute gRPC address that names the service, such as 'http://greeter.shop' (got '{uri}'). Pass it to GrpcChannel.ForAddress or AddGrpcClient(o => o.Address = ...).");
        }
        string? contentType = request.Content?.Headers.NonValidated.TryGetValues("Content-Type", out HeaderStringValues values) == true ? values.ToString() : null;
        if (contentType is null || !contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"ClientLbGrpcHandler sends gRPC calls; the request to '{uri}' has the content type '{contentType ?? "(none)"}', not application/grpc. Send other HTTP requests through ClientLbHttpHandler (AddClientLb()).");
        }
        string path = uri.AbsolutePath;
        int slash = path.IndexOf('/', 1);
        if (slash <= 1 || slash == path.Length - 1 || path.IndexOf('/', slash + 1) >= 0)
        {
            throw new InvalidOperationException($"The gRPC request path '{path}' of '{uri}' is not '/package.Service/Method'.");
        }
        if (!contentType.StartsWith("application/grpc-web", StringComparison.OrdinalIgnoreCase))
        {
            if (request.Version < HttpVersion.Version20)
            {
                request.Version = HttpVersion.Version20;
            }
            if (request.VersionPolicy == HttpVersionPolicy.RequestVersionOrLower)
            {
                request.VersionPolicy = HttpVersionPolicy.RequestVersionExact;
            }
        }
        return path;
    }

    private static TimeSpan? ReadTimeout(HttpRequestMessage request, string method)
    {
        if (!request.Headers.NonValidated.TryGetValues(DeadlineHeader.Name, out HeaderStringValues values))
        {
            return null;
        }
        string text = values.ToString();
        return DeadlineHeader.TryParse(text, out TimeSpan timeout)
            ? timeout
            : throw new InvalidOperationException($"The grpc-timeout header '{text}' of call {method} is not a gRPC timeout (1-8 digits and one of the units H, M, S, m, u, n).");
    }

    /// <summary>Releases the handler's leases on its services, and stops its own health monitor if it has one.</summary>
    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _lookup.Dispose();
            if (_ownsHealth)
            {
                _health!.DisposeAsync().AsTask().GetAwaiter().GetResult();
            }
        }
        base.Dispose(disposing);
    }
}
