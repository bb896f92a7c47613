using System.Collections.Concurrent;
using ClientLb.Attempts;
using ClientLb.Balancing;
using ClientLb.Grpc.Configuration;
using ClientLb.Grpc.Diagnostics;
using ClientLb.Http;
using ClientLb.Names;
using ClientLb.Registry;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClientLb.Grpc.Health;

/// <summary>
/// Active health checks with grpc.health.v1.Health/Check for the services that opt in
/// (<see cref="ClientLbGrpcOptions.HealthChecks"/>). Each endpoint of a watched service is checked every interval over
/// its own connections; the verdict goes to <see cref="ServiceBalancer.ReportHealthCheck"/>, the same eligibility that
/// passive health's ejections use. One monitor per process (dependency injection registers it as a singleton).
/// </summary>
public sealed class GrpcHealthMonitor : IAsyncDisposable, IDisposable
{
    private readonly ServiceRegistry _registry;
    private readonly List<(ServiceName Name, GrpcHealthCheckOptions Options)> _configured = [];
    private readonly ConcurrentDictionary<ServiceBalancer, ServiceHealthChecker> _checkers = new();
    private readonly EndpointTransports _transports;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();

    /// <summary>Creates a monitor for the services <paramref name="options"/> configures checks for.</summary>
    /// <exception cref="ArgumentException">A configured service name is invalid (the entry is named).</exception>
    public GrpcHealthMonitor(ServiceRegistry registry, ClientLbGrpcOptions options, ILoggerFactory? loggerFactory = null)
    {
        _registry = registry ?? throw new ArgumentNullException(nameof(registry));
        ArgumentNullException.ThrowIfNull(options);
        foreach ((string service, GrpcHealthCheckOptions check) in options.HealthChecks)
        {
            if (!ServiceName.TryParse(service, registry.Defaults, out ServiceName? name, out string? error))
            {
                throw new ArgumentException($"{ClientLbGrpcOptions.SectionName}:HealthChecks:{service}: the service name is invalid: {error}", nameof(options));
            }
            if (check.Enabled)
            {
                _configured.Add((name, check));
            }
        }
        _transports = new EndpointTransports(registry.Options.ConfigureTransport);
        _logger = (loggerFactory ?? NullLoggerFactory.Instance).CreateLogger("ClientLb.Grpc.Health");
    }

    /// <summary>Raised when an endpoint's verdict changes (from a check round, on the checking thread).</summary>
    public event EventHandler<GrpcHealthChangedEventArgs>? HealthChanged;

    /// <summary>
    /// Starts checking <paramref name="balancer"/>'s endpoints if its service opted in; <paramref name="address"/> is the
    /// logical address calls use (scheme, name and port: the checks' Host and TLS SNI). Returns whether it is checked. The
    /// checks stop when the balancer does (<see cref="ServiceBalancer.Stopped"/>).
    /// </summary>
    public bool Watch(ServiceBalancer balancer, Uri address)
    {
        ArgumentNullException.ThrowIfNull(balancer);
        ArgumentNullException.ThrowIfNull(address);
        ObjectDisposedException.ThrowIf(_stopping.IsCancellationRequested, this);
        if (_checkers.ContainsKey(balancer))
        {
            return true;
        }
        GrpcHealthCheckOptions? options = OptionsFor(balancer.Service);
        if (options is null)
        {
            return false;
        }
        var checker = new ServiceHealthChecker(this, balancer, address, options);
        if (_checkers.TryAdd(balancer, checker))
        {
            // A balancer the registry released (no client for the idle-service timeout) takes its checks with it.
            var stopping = CancellationTokenSource.CreateLinkedTokenSource(_stopping.Token, balancer.Stopped);
            // An ejected endpoint of this service is probed with the same check, so it returns as soon as it serves.
            balancer.Prober = checker.ProbeAsync;
            checker.Start(stopping.Token);
            _ = checker.Completion.ContinueWith(static (_, cts) => ((CancellationTokenSource)cts!).Dispose(), stopping, TaskScheduler.Default);
            balancer.Stopped.Register(() => _checkers.TryRemove(new KeyValuePair<ServiceBalancer, ServiceHealthChecker>(balancer, checker)));
        }
        return true;
    }

    /// <summary>Runs one check round of a watched service now (after any round in progress) and returns when its verdicts are applied.</summary>
    /// <exception cref="InvalidOperationException">The service is not watched (no health checks configured, or no call reached it yet).</exception>
    public Task CheckNowAsync(ServiceBalancer balancer, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(balancer);
        return _checkers.TryGetValue(balancer, out ServiceHealthChecker? checker)
            ? checker.CheckRoundAsync(cancellationToken)
            : throw new InvalidOperationException($"Service '{balancer.Service}' has no active health checks: configure {ClientLbGrpcOptions.SectionName}:HealthChecks:{balancer.Service.Name} and make a call to it first.");
    }

    // An entry with a port or named port matches that port selector only; one without matches the service on any port.
    private GrpcHealthCheckOptions? OptionsFor(ServiceName service)
    {
        foreach ((ServiceName name, GrpcHealthCheckOptions options) in _configured)
        {
            bool anyPort = name.Port is null && name.PortName is null;
            if (anyPort ? name.Key == service.Key : name.Id == service.Id)
            {
                return options;
            }
        }
        return null;
    }

    internal ServiceRegistry Registry => _registry;

    internal EndpointTransports Transports => _transports;

    internal ILogger Logger => _logger;

    internal void OnChanged(ServiceBalancer balancer, BalancedEndpoint endpoint, bool serving, string reason)
    {
        Log.HealthChanged(_logger, balancer.Service.Id, endpoint.Endpoint.Authority, serving ? "serving" : "not serving", reason);
        HealthChanged?.Invoke(this, new GrpcHealthChangedEventArgs(balancer.Service, endpoint.Endpoint, serving, reason));
    }

    /// <summary>Stops every check loop and waits for them (a container disposed synchronously disposes the monitor so).</summary>
    public void Dispose() => DisposeAsync().AsTask().GetAwaiter().GetResult();

    /// <summary>Stops every check loop (a released balancer's loop has stopped already).</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        foreach (ServiceHealthChecker checker in _checkers.Values)
        {
            await checker.Completion.ConfigureAwait(false);
        }
        _checkers.Clear();
        _stopping.Dispose();
    }
}
