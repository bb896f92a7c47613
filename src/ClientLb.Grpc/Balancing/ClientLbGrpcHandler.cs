using System.Net.Http.Headers;
using System.Net;
using ClientLb.Grpc.Configuration;
using ClientLb.Grpc.Health;
using ClientLb.Http;
using ClientLb.LoadBalancing;
using ClientLb.Names;
using ClientLb.Registry;
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
public sealed partial class ClientLbGrpcHandler : HttpMessageHandler
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
    protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        ArgumentNullException.ThrowIfNull(request);
        try
        {
            string method = PrepareCall(request);
            ServiceBalancer balancer;
            ValueTask ready;
            try
            {
                balancer = _lookup.Get(request.RequestUri);
                ready = balancer.EnsureReadyAsync(_registry.Options.InitialResolutionTimeout, cancellationToken);
            }
            catch (Exception ex) when (IsNoService(ex))
            {
                throw Unavailable(ex);
            }
            return ready.IsCompletedSuccessfully ? Send(request, method, balancer, cancellationToken) : SendWhenReadyAsync(request, method, balancer, ready, cancellationToken);
        }
        catch (Exception ex)
        {
            return Task.FromException<HttpResponseMessage>(ex);
        }
    }

    private static bool IsNoService(Exception ex) => ex is NoEndpointsException or ServiceNameFormatException or ServiceNotFoundException;

    private async Task<HttpResponseMessage> SendWhenReadyAsync(HttpRequestMessage request, string method, ServiceBalancer balancer, ValueTask ready, CancellationToken cancellationToken)
    {
        try
        {
            await ready.ConfigureAwait(false);
        }
        catch (Exception ex) when (IsNoService(ex))
        {
            throw Unavailable(ex);
        }
        return await Send(request, method, balancer, cancellationToken).ConfigureAwait(false);
    }

    // The call's plan, then its first attempt. A call whose body is kept for a replay, whose answer is read ahead, or that
    // finds no endpoint goes straight to the attempt loop; any other call's first attempt is awaited by a pooled
    // FirstAttempt, which completes the call without an async state machine when its answer is a call under way.
    private Task<HttpResponseMessage> Send(HttpRequestMessage request, string method, ServiceBalancer balancer, CancellationToken cancellationToken)
    {
        long callStart = _registry.TimeProvider.GetTimestamp();
        TimeSpan? timeout = GrpcHeaders.TimeoutOf(request, method);
        bool idempotent = _idempotent.Contains(method);
        CallContent? content = null;
        // The body is kept only where a retry may send it again after it went out: an idempotent method. Any other call
        // is retried only when it was not sent (no connection), and then its own body was never read.
        if (_maxRetries > 0 && idempotent && _replayLimit > 0 && request.Content is HttpContent body)
        {
            content = new CallContent(body, _replayLimit, _unary.Contains(method));
            request.Content = content;
        }
        balancer.RetryBudget.Deposit(callStart);
        var call = new CallPlan(request, method, request.RequestUri!, balancer, callStart, timeout, idempotent, content, cancellationToken);
        if (content is not null || (idempotent && _unary.Contains(method)))
        {
            return RunAsync(call, null);
        }
        Task pickerChanged = balancer.PickerChanged;
        BalancedEndpoint endpoint;
        try
        {
            endpoint = balancer.Pick(new PickContext(request));
        }
        catch (NoEndpointsException)
        {
            return RunAsync(call, null);
        }
        // The first attempt starts at the call's own timestamp: one clock read fewer per call.
        AttemptStart first = StartAttempt(call, endpoint, pickerChanged, callStart);
        return first.Sent.IsCompleted ? RunAsync(call, first) : FirstAttempt.Run(this, call, first);
    }

    // Sends one attempt, starting at `now`, to a picked endpoint; a send that throws at once is a failed attempt like any other.
    private AttemptStart StartAttempt(in CallPlan call, BalancedEndpoint endpoint, Task pickerChanged, long now)
    {
        call.Request.RequestUri = EndpointUri.For(call.Original, endpoint.Endpoint, call.Balancer.Service);
        long start = call.Balancer.StartAttempt(endpoint, now);
        Task<HttpResponseMessage> sent;
        try
        {
            sent = _transports.SendAsync(endpoint, call.Request, ConnectBound(call, start), call.CancellationToken);
        }
        catch (Exception ex)
        {
            sent = Task.FromException<HttpResponseMessage>(ex);
        }
        return new AttemptStart(endpoint, start, pickerChanged, sent);
    }

    /// <summary>
    /// The first attempt's answer when it is a call under way (headers without a status), recorded and returned; null
    /// when anything else happened (a failure, a status in the headers): <see cref="RunAsync"/> takes the call on.
    /// </summary>
    internal static HttpResponseMessage? TryCompleteFirst(in CallPlan call, in AttemptStart first)
    {
        if (!first.Sent.IsCompletedSuccessfully || GrpcHeaders.StatusOfHeaders(first.Sent.Result) is not null)
        {
            return null;
        }
        call.Request.RequestUri = call.Original;
        return UnderWay(call.Balancer, first, first.Sent.Result, null);
    }

    // An answer whose body is still to come: the call stays outstanding on its endpoint until the response is disposed.
    private static HttpResponseMessage UnderWay(ServiceBalancer balancer, in AttemptStart attempt, HttpResponseMessage response, byte[]? prefix)
    {
        balancer.EndAttempt(attempt.Endpoint, attempt.Start, response, null);
        response.Content = new CallResponseContent(response.Content, attempt.Endpoint, prefix);
        return response;
    }

    // Where another endpoint could take the call, the wait for a connection is bounded by half of what is left of the
    // deadline (and by the pool's connect timeout), so a connect that never completes leaves time for the retry.
    private TimeSpan ConnectBound(in CallPlan call, long now)
    {
        if (call.Timeout is not TimeSpan t || call.Balancer.EligibleCount < 2 || _maxRetries == 0)
        {
            return Timeout.InfiniteTimeSpan;
        }
        TimeSpan left = t - _registry.TimeProvider.GetElapsedTime(call.CallStart, now);
        return left > TimeSpan.Zero ? left / 2 : TimeSpan.Zero;
    }

    // grpc-dotnet keeps the status of an RpcException thrown by the handler: UNAVAILABLE with ClientLb's reason.
    private static RpcException Unavailable(Exception reason) => new(new Status(StatusCode.Unavailable, reason.Message, reason));

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
