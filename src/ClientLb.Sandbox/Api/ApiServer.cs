using System.Net;
using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using System.Text;
using ClientLb.Sandbox.Security;
using ClientLb.Sandbox.Store;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ClientLb.Sandbox.Api;

/// <summary>The Kubernetes API subset over real HTTP(S) on a loopback port, hosted by Kestrel.</summary>
internal sealed class ApiServer : IAsyncDisposable
{
    private readonly ObjectStore _store;
    private readonly ResourceHandler _resources;
    private readonly PortForward.PortForwardHandler _portForward;
    private readonly Authorization _authorization;
    private readonly AccessReviews _reviews;
    private readonly NodeProxyPods _nodeProxies;
    private readonly X509Certificate2? _certificate;
    private readonly string? _token;
    private readonly ILogger _logger;
    private readonly ILoggerFactory? _loggerFactory;
    private readonly Lock _faultLock = new();
    private int _failRemaining;
    private int _failCode;
    private WebApplication? _app;

    public ApiServer(ObjectStore store, X509Certificate2? certificate, string? token, Func<TimeSpan> bookmarkInterval, WatchDeliveryGate gate, ILoggerFactory? loggerFactory,
        Logs.PodLogs podLogs, Security.ServiceAccountTokens tokens, Security.RbacAuthorizer? rbac, NodeProxyPods nodeProxies, WatchCounter? watchCounter = null)
    {
        _nodeProxies = nodeProxies;
        _store = store;
        _certificate = certificate;
        _token = token;
        _loggerFactory = loggerFactory;
        _logger = (ILogger?)loggerFactory?.CreateLogger("ClientLb.Sandbox.ApiServer") ?? Microsoft.Extensions.Logging.Abstractions.NullLogger.Instance;
        _authorization = new Authorization(tokens, rbac);
        _reviews = new AccessReviews(_authorization);
        _resources = new ResourceHandler(store, new WatchHandler(store, bookmarkInterval, gate, watchCounter), new Subresources(store, podLogs, tokens));
        _portForward = new PortForward.PortForwardHandler(store, _logger);
    }

    public Uri Uri { get; private set; } = null!;
    public int Port => Uri.Port;

    public async Task StartAsync(int port, CancellationToken ct)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder(new WebApplicationOptions { ApplicationName = "ClientLb.Sandbox", ContentRootPath = AppContext.BaseDirectory });
        builder.Logging.ClearProviders();
        builder.Services.AddSingleton<Microsoft.Extensions.Hosting.IHostLifetime, EmbeddedLifetime>();
        if (_loggerFactory is not null)
        {
            builder.Services.AddSingleton(_loggerFactory);
        }

        builder.WebHost.ConfigureKestrel(k =>
        {
            k.AddServerHeader = false;
            k.Listen(IPAddress.Loopback, port, listen =>
            {
                if (_certificate is not null)
                {
                    listen.UseHttps(_certificate);
                }
            });
        });
        WebApplication app = builder.Build();
        app.UseWebSockets(); // port-forward (websocket tunnel)
        app.Run(HandleAsync);
        try
        {
            await app.StartAsync(ct);
        }
        catch (IOException ex)
        {
            await app.DisposeAsync();
            throw new InvalidOperationException($"The sandbox API server could not listen on 127.0.0.1:{port}: {ex.Message}", ex);
        }
        _app = app;
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        int bound = new Uri(address).Port;
        Uri = new Uri($"{(_certificate is null ? "http" : "https")}://127.0.0.1:{bound}/");
    }

    /// <summary>Fault injection: the next <paramref name="count"/> API requests fail with <paramref name="statusCode"/> (429 or 5xx).</summary>
    public void FailNextRequests(int count, int statusCode)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(count);
        if (statusCode is not (429 or >= 500 and <= 599))
        {
            throw new ArgumentOutOfRangeException(nameof(statusCode), statusCode, "only 429 and 5xx status codes can be injected");
        }

        lock (_faultLock) { _failRemaining = count; _failCode = statusCode; }
    }

    private bool TakeFault(out int code)
    {
        lock (_faultLock)
        {
            code = _failCode;
            if (_failRemaining == 0)
            {
                return false;
            }

            _failRemaining--;
            return true;
        }
    }

    private async Task HandleAsync(HttpContext ctx)
    {
        string path = ctx.Request.Path.Value ?? "/";
        try
        {
            if (path is "/healthz" or "/livez" or "/readyz")
            {
                ctx.Response.ContentType = "text/plain";
                await ctx.Response.WriteAsync("ok", ctx.RequestAborted);
                return;
            }
            UserInfo? user = _authorization.Authenticate(ctx, IsAdminToken, _token is not null);
            _authorization.Authorize(ctx, path, user);
            if (TakeFault(out int faultCode))
            {
                throw faultCode == 429
                    ? new ApiException(429, "TooManyRequests", "injected fault: too many requests, please try again later") { }
                    : new ApiException(faultCode, "InternalError", $"injected fault: the sandbox API server answered {faultCode}");
            }

            switch (path.TrimEnd('/'))
            {
                case "/version":
                    await HttpIo.WriteJsonAsync(ctx, 200, Discovery.Version());
                    return;
                case "/api":
                    await HttpIo.WriteJsonAsync(ctx, 200, Discovery.CoreVersions($"127.0.0.1:{Port}"));
                    return;
                case "/apis":
                    await HttpIo.WriteJsonAsync(ctx, 200, Discovery.GroupList());
                    return;
                case "/openapi/v3":
                    await HttpIo.WriteJsonAsync(ctx, 200, OpenApi.Root());
                    return;
            }
            if (path.StartsWith("/openapi/v3/", StringComparison.Ordinal))
            {
                await HttpIo.WriteJsonAsync(ctx, 200, OpenApi.GroupVersion(path["/openapi/v3/".Length..].TrimEnd('/')) ?? throw ApiException.NotFoundPath(path));
                return;
            }
            ApiPath apiPath = ApiPath.Parse(path) ?? throw ApiException.NotFoundPath(path);
            if (apiPath.IsDiscovery)
            {
                if (ctx.Request.Method != "GET")
                {
                    throw ApiException.MethodNotAllowed($"{ctx.Request.Method} is not allowed on discovery documents");
                }

                await HttpIo.WriteJsonAsync(ctx, 200, apiPath.DiscoveryVersion is null
                    ? Discovery.Group(apiPath.DiscoveryGroup!)
                    : Discovery.ResourceList(apiPath.DiscoveryGroup!, apiPath.DiscoveryVersion));
                return;
            }
            if (apiPath is { Subresource: "portforward", Namespace: { } forwardNs, Name: { } forwardPod } && apiPath.Type == ResourceTypes.Pods)
            {
                await _portForward.HandleAsync(ctx, forwardNs, forwardPod);
                return;
            }
            Negotiation.SelectWireFormat(ctx);
            if (AccessReviews.Handles(apiPath.Type!)) { await _reviews.HandleAsync(ctx, apiPath.Type!, apiPath.Namespace); return; }
            using IDisposable? nodeProxyWatch = _nodeProxies.Enter(ctx, apiPath, user?.UserName);
            await _resources.HandleAsync(ctx, apiPath);
        }
        catch (ApiException ex)
        {
            if (ctx.Response.HasStarted) { _logger.LogWarning(ex, "API error after the response started: {Path}", path); return; }
            if (ex.Code == 429)
            {
                ctx.Response.Headers.RetryAfter = "1";
            }

            await HttpIo.WriteJsonAsync(ctx, ex.Code, ex.ToStatus());
        }
        catch (OperationCanceledException) when (ctx.RequestAborted.IsCancellationRequested)
        {
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            _logger.LogError(ex, "Unhandled error serving {Method} {Path}", ctx.Request.Method, path);
            if (!ctx.Response.HasStarted)
            {
                await HttpIo.WriteJsonAsync(ctx, 500, new ApiException(500, "InternalError", $"Internal error occurred: {ex.Message}").ToStatus());
            }
        }
    }

    private bool IsAdminToken(string token) =>
        _token is not null && CryptographicOperations.FixedTimeEquals(Encoding.UTF8.GetBytes(token), Encoding.UTF8.GetBytes(_token));

    public async ValueTask DisposeAsync()
    {
        if (_app is null)
        {
            return;
        }

        _store.CloseClientWatches();
        using var cts = new CancellationTokenSource(TimeSpan.FromSeconds(5));
        try { await _app.StopAsync(cts.Token); } catch (OperationCanceledException) { }
        await _app.DisposeAsync();
        _app = null;
    }
}
