using System.Net;
using System.Net.Http.Headers;
using ClientLb.Attempts;
using ClientLb.Balancing;
using ClientLb.Grpc.Configuration;
using ClientLb.Grpc.Health;
using ClientLb.Http;
using ClientLb.Names;
using ClientLb.Registry;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Options;

namespace ClientLb.Grpc.Balancing;

/// <summary>
/// The HTTP handler for gRPC channels (<c>GrpcChannelOptions.HttpHandler</c>, or the primary handler of
/// <c>AddGrpcClient</c>): every call picks an endpoint of the service its address names and runs over that endpoint's
/// own HTTP/2 connections (h2c for http, h2 via ALPN for https; more connections when one's stream limit is reached). A
/// streaming call stays on its endpoint by construction. UNAVAILABLE and connection failures count against the endpoint
/// (ClientLb's passive health) and are retried on another endpoint when nothing was sent or the method is idempotent,
/// within the call's <c>grpc-timeout</c>; every other status passes through untouched. Attempts follow the model HTTP shares
/// (<see cref="AttemptLoop"/>): the first inline, retries under Polly's retry strategy.
/// </summary>
public sealed class ClientLbGrpcHandler : HttpMessageHandler
{
    private readonly ServiceRegistry _registry;
    private readonly AttemptLoop _attempts;
    private readonly MethodSet _idempotent;
    private readonly MethodSet _unary;
    private readonly int _replayLimit;
    private readonly GrpcHealthMonitor? _health;
    private readonly bool _ownsHealth;
    private readonly ServiceBalancerLookup _lookup;
    // The last request path found well formed: grpc-dotnet keeps one Uri per method, so its path is the same string on
    // every call and is checked once, not on each.
    private string? _checkedPath;

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
        ValidateOptionsResult validation = new ClientLbGrpcOptionsValidator().Validate(null, options);
        if (validation.Failed)
        {
            throw new Microsoft.Extensions.Options.OptionsValidationException(ClientLbGrpcOptions.SectionName, typeof(ClientLbGrpcOptions), validation.Failures);
        }
        loggerFactory ??= NullLoggerFactory.Instance;
        _idempotent = new MethodSet(options.IdempotentMethods);
        _unary = new MethodSet(options.UnaryMethods);
        _replayLimit = options.MaxReplayBufferBytes;
        _attempts = new AttemptLoop(new GrpcAttemptClassifier(_idempotent), options.MaxRetryAttempts,
            new EndpointTransports(registry.Options.ConfigureTransport, registry.TimeProvider), registry.Metrics, loggerFactory.CreateLogger("ClientLb.Grpc"),
            registry.TimeProvider, traceAttempts: false);
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

    // The call's plan, then its first attempt, inline: a pooled FirstAttempt awaits it and completes the call without an
    // async state machine when its answer is a call under way. A call whose answer is read ahead, or that finds no
    // endpoint, goes to the attempt loop; so does a first attempt that did not answer with a call under way.
    private Task<HttpResponseMessage> Send(HttpRequestMessage request, string method, ServiceBalancer balancer, CancellationToken cancellationToken)
    {
        long callStart = _attempts.TimeProvider.GetTimestamp();
        TimeSpan? timeout = GrpcHeaders.TimeoutOf(request, method);
        bool idempotent = _idempotent.Contains(method);
        // The body is kept only where a retry may send it again after it went out: an idempotent method. Any other call
        // is retried only when it was not sent (no connection), and then its own body was never read.
        if (_attempts.MaxRetryAttempts > 0 && idempotent && _replayLimit > 0 && request.Content is HttpContent body)
        {
            request.Content = new CallContent(body, _replayLimit, _unary.Contains(method));
        }
        balancer.RetryBudget.Deposit(callStart);
        var call = new CallPlan(request, method, request.RequestUri!, balancer, callStart, timeout, balancer.PickerChanged, cancellationToken);
        if (idempotent && _unary.Contains(method))
        {
            return RunAsync(call, null, null);
        }
        BalancedEndpoint endpoint;
        try
        {
            endpoint = balancer.Pick(new PickContext(request));
        }
        catch (NoEndpointsException)
        {
            return RunAsync(call, null, null);
        }
        // The first attempt starts at the call's own timestamp: one clock read fewer per call.
        Task<HttpResponseMessage> sent = _attempts.Start(balancer, request, call.Original, endpoint, callStart, 0,
            GrpcCall.ConnectBound(_attempts, call, callStart), cancellationToken, out AttemptStart first);
        return !sent.IsCompleted ? FirstAttempt.Run(this, call, first, sent)
            : TryCompleteFirst(call, first, sent) is HttpResponseMessage underWay ? Task.FromResult(underWay)
            : RunAsync(call, first, sent);
    }

    /// <summary>
    /// The first attempt's answer when it is a call under way (headers without a status), recorded and returned; null
    /// when anything else happened (a failure, a status in the headers): <see cref="RunAsync"/> takes the call on.
    /// </summary>
    internal static HttpResponseMessage? TryCompleteFirst(in CallPlan call, in AttemptStart first, Task<HttpResponseMessage> sent)
    {
        if (!sent.IsCompletedSuccessfully || GrpcHeaders.StatusOfHeaders(sent.Result) is not null)
        {
            return null;
        }
        if (!ReferenceEquals(call.Request.RequestUri, call.Original))
        {
            call.Request.RequestUri = call.Original;
        }
        // An answer under way is no failure (the status comes with its end, which grpc-dotnet reads).
        call.Balancer.EndAttempt(first.Endpoint, first.Start, AttemptOutcome.Answered);
        return UnderWay(sent.Result, first.Endpoint, null);
    }

    /// <summary>
    /// The attempt loop (<see cref="AttemptLoop.RunAsync(AttemptCall, AttemptStart, Task{HttpResponseMessage})"/>) for a call
    /// that <paramref name="first"/> (sending <paramref name="sent"/>), when given, did not complete: it classifies that
    /// attempt, and retries on another endpoint where that is safe, within the deadline and the retry budget.
    /// </summary>
    internal async Task<HttpResponseMessage> RunAsync(CallPlan call, AttemptStart? first, Task<HttpResponseMessage>? sent)
    {
        int readAhead = _idempotent.Contains(call.Method) && _unary.Contains(call.Method) ? _replayLimit : 0;
        var attempts = new GrpcCall(_attempts, call, readAhead, first?.Endpoint);
        try
        {
            return await (first is AttemptStart started && sent is not null
                ? _attempts.RunAsync(attempts, started, sent)
                : _attempts.RunAsync(attempts)).ConfigureAwait(false);
        }
        finally
        {
            call.Request.RequestUri = call.Original;
        }
    }

    /// <summary>
    /// Hands an answer to grpc-dotnet: a call whose status came (in the headers, or read ahead) is over on its endpoint; a
    /// call under way stays outstanding on it until its body ends (<paramref name="prefix"/>: what was read ahead of it).
    /// </summary>
    internal static HttpResponseMessage Deliver(HttpResponseMessage response, BalancedEndpoint endpoint, byte[]? prefix)
    {
        if (response.Content is ResponseReadAhead.ReadAnswer || GrpcHeaders.StatusOfHeaders(response) is not null)
        {
            endpoint.OnRequestEnd();
            return response;
        }
        return UnderWay(response, endpoint, prefix);
    }

    private static HttpResponseMessage UnderWay(HttpResponseMessage response, BalancedEndpoint endpoint, byte[]? prefix)
    {
        response.Content = new CallResponseContent(response.Content, endpoint, prefix);
        return response;
    }

    // grpc-dotnet keeps the status of an RpcException thrown by the handler: UNAVAILABLE with ClientLb's reason.
    internal static RpcException Unavailable(Exception reason) => new(new Status(StatusCode.Unavailable, reason.Message, reason));

    // Checks the request is a gRPC call and makes it HTTP/2: gRPC is defined over HTTP/2 only (h2c needs prior knowledge,
    // so the version is exact unless the caller allows higher). Returns the method path.
    private string PrepareCall(HttpRequestMessage request)
    {
        Uri? uri = request.RequestUri;
        if (uri is null || !uri.IsAbsoluteUri)
        {
            throw new InvalidOperationException($"ClientLb needs an absolute gRPC address that names the service, such as 'http://greeter.shop' (got '{uri}'). Pass it to GrpcChannel.ForAddress or AddGrpcClient(o => o.Address = ...).");
        }
        // The typed header first: grpc-dotnet sets it parsed, so it is found by reference with nothing to format. The raw
        // text where it does not parse (a caller added it unvalidated), and in the error, which quotes it whole.
        string? contentType = request.Content is HttpContent content ? content.Headers.ContentType?.MediaType ?? RawContentType(content) : null;
        if (contentType is null || !contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase))
        {
            throw new InvalidOperationException($"ClientLbGrpcHandler sends gRPC calls; the request to '{uri}' has the content type '{(request.Content is null ? null : RawContentType(request.Content)) ?? "(none)"}', not application/grpc. Send other HTTP requests through ClientLbHttpHandler (AddClientLb()).");
        }
        string path = uri.AbsolutePath;
        if (!ReferenceEquals(path, Volatile.Read(ref _checkedPath)))
        {
            int slash = path.IndexOf('/', 1);
            if (slash <= 1 || slash == path.Length - 1 || path.IndexOf('/', slash + 1) >= 0)
            {
                throw new InvalidOperationException($"The gRPC request path '{path}' of '{uri}' is not '/package.Service/Method'.");
            }
            Volatile.Write(ref _checkedPath, path);
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

    private static string? RawContentType(HttpContent content) =>
        content.Headers.NonValidated.TryGetValues("Content-Type", out HeaderStringValues values) ? values.ToString() : null;

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
