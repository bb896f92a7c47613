using ClientLb.Attempts;
using ClientLb.Grpc.Configuration;
using ClientLb.Grpc.Diagnostics;
using ClientLb.LoadBalancing;
using Grpc.Core;
using Grpc.Health.V1;
using Grpc.Net.Client;

namespace ClientLb.Grpc.Health;

/// <summary>The check loop of one service: a round over all its endpoints at once, every interval, rounds never overlapping.</summary>
internal sealed class ServiceHealthChecker(GrpcHealthMonitor monitor, ServiceBalancer balancer, Uri address, GrpcHealthCheckOptions options)
{
    private readonly SemaphoreSlim _round = new(1, 1);
    private readonly Dictionary<BalancedEndpoint, int> _failures = [];
    private readonly HashSet<BalancedEndpoint> _unimplemented = [];

    public Task Completion { get; private set; } = Task.CompletedTask;

    /// <summary>
    /// Starts the first round at once (it holds the round lock before this returns, so any later round runs after it), then
    /// one round per interval.
    /// </summary>
    public void Start(CancellationToken stopping)
    {
        Task first = CheckRoundAsync(stopping);
        Completion = RunAsync(first, stopping);
    }

    private async Task RunAsync(Task round, CancellationToken stopping)
    {
        TimeProvider time = monitor.Registry.TimeProvider;
        while (true)
        {
            try
            {
                await round.ConfigureAwait(false);
            }
            catch (OperationCanceledException) when (stopping.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // A broken round must not end checking for good; the next interval tries again.
                Log.HealthLoopFailed(monitor.Logger, balancer.Service.Id, ex);
            }
            try
            {
                await Task.Delay(options.Interval, time, stopping).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            round = CheckRoundAsync(stopping);
        }
    }

    public async Task CheckRoundAsync(CancellationToken cancellationToken)
    {
        await _round.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            BalancedEndpoint[] endpoints = [.. balancer.KnownEndpoints.Where(static e => !e.IsRetired)];
            (BalancedEndpoint Endpoint, Verdict Verdict)[] results = await Task.WhenAll(endpoints.Select(async e => (e, await CheckAsync(e, cancellationToken).ConfigureAwait(false)))).ConfigureAwait(false);
            foreach ((BalancedEndpoint endpoint, Verdict verdict) in results)
            {
                Apply(endpoint, verdict);
            }
            // Forget endpoints that left the service.
            foreach (BalancedEndpoint gone in _failures.Keys.Where(e => Array.IndexOf(endpoints, e) < 0).ToList())
            {
                _failures.Remove(gone);
                _unimplemented.Remove(gone);
            }
        }
        finally
        {
            _round.Release();
        }
    }

    private void Apply(BalancedEndpoint endpoint, Verdict verdict)
    {
        bool serving;
        switch (verdict.Kind)
        {
            case VerdictKind.Serving:
                _failures[endpoint] = 0;
                serving = true;
                break;
            case VerdictKind.NotServing:
                _failures[endpoint] = 0;
                serving = false;
                break;
            case VerdictKind.Unimplemented:
                // gRFC A17: a server without the health service is treated as healthy (and said so once).
                if (_unimplemented.Add(endpoint))
                {
                    Log.HealthUnimplemented(monitor.Logger, balancer.Service.Id, endpoint.Endpoint.Authority);
                }
                _failures[endpoint] = 0;
                serving = true;
                break;
            default:
                int failures = _failures.GetValueOrDefault(endpoint) + 1;
                _failures[endpoint] = failures;
                Log.HealthCheckFailed(monitor.Logger, balancer.Service.Id, endpoint.Endpoint.Authority, failures, verdict.Reason);
                if (failures < options.UnhealthyThreshold)
                {
                    return;
                }
                serving = false;
                break;
        }
        if (balancer.ReportHealthCheck(endpoint, serving))
        {
            monitor.OnChanged(balancer, endpoint, serving, verdict.Reason);
        }
    }

    /// <summary>The probe of an ejected endpoint (<see cref="ServiceBalancer.Prober"/>): one check, SERVING returns it.</summary>
    public async ValueTask<bool> ProbeAsync(BalancedEndpoint endpoint, CancellationToken cancellationToken) =>
        (await CheckAsync(endpoint, cancellationToken).ConfigureAwait(false)).Kind == VerdictKind.Serving;

    // Grpc.HealthCheck's client over a channel onto the endpoint's own connections (the pool calls use): the logical
    // address keeps Host and TLS SNI the service's. The check's timeout runs on the registry's clock.
    private async Task<Verdict> CheckAsync(BalancedEndpoint endpoint, CancellationToken cancellationToken)
    {
        using var timeout = new CancellationTokenSource(options.Timeout, monitor.Registry.TimeProvider);
        using var check = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken, timeout.Token);
        using GrpcChannel channel = GrpcChannel.ForAddress(EndpointUri.For(address, endpoint.Endpoint, balancer.Service),
            new GrpcChannelOptions { HttpHandler = new InvokerHandler(monitor.Transports.Get(endpoint)), DisposeHttpClient = true });
        try
        {
            HealthCheckResponse response = await new global::Grpc.Health.V1.Health.HealthClient(channel)
                .CheckAsync(new HealthCheckRequest { Service = options.ServiceName }, cancellationToken: check.Token).ConfigureAwait(false);
            return response.Status == HealthCheckResponse.Types.ServingStatus.Serving
                ? new Verdict(VerdictKind.Serving, "SERVING")
                : new Verdict(VerdictKind.NotServing, ToName(response.Status));
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.Unimplemented)
        {
            return new Verdict(VerdictKind.Unimplemented, "UNIMPLEMENTED");
        }
        catch (RpcException ex) when (ex.StatusCode == StatusCode.NotFound)
        {
            // The server does not know the checked service name: an explicit answer, not a lost check.
            return new Verdict(VerdictKind.NotServing, $"NOT_FOUND ({ex.Status.Detail})");
        }
        catch (RpcException ex) when (!cancellationToken.IsCancellationRequested)
        {
            return new Verdict(VerdictKind.Failed, timeout.IsCancellationRequested
                ? $"no answer within {options.Timeout.TotalMilliseconds:0} ms"
                : $"{ex.StatusCode}: {ex.Status.Detail}");
        }
    }

    // Hands the channel's requests to the endpoint's pool; disposing it (with the channel) leaves the pool open.
    private sealed class InvokerHandler(HttpMessageInvoker invoker) : HttpMessageHandler
    {
        protected override Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken) =>
            invoker.SendAsync(request, cancellationToken);
    }

    private static string ToName(HealthCheckResponse.Types.ServingStatus status) => status switch
    {
        HealthCheckResponse.Types.ServingStatus.NotServing => "NOT_SERVING",
        HealthCheckResponse.Types.ServingStatus.ServiceUnknown => "SERVICE_UNKNOWN",
        HealthCheckResponse.Types.ServingStatus.Unknown => "UNKNOWN",
        _ => status.ToString(),
    };

    private enum VerdictKind
    {
        Serving,
        NotServing,
        Unimplemented,
        Failed,
    }

    private readonly record struct Verdict(VerdictKind Kind, string Reason);
}
