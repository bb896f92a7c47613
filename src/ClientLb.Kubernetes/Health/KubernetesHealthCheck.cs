using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Sources;
using ClientLb.Kubernetes.Watching;
using Microsoft.Extensions.Diagnostics.HealthChecks;
using Microsoft.Extensions.Options;

namespace ClientLb.Kubernetes.Health;

/// <summary>
/// Healthy when every watched service is current and has endpoints; Degraded when one is stale (its watch failing for
/// <see cref="KubernetesSourceOptions.StaleAfter"/>, shown as "failing since ...: reason" like <c>clientlb watch</c>) or has no endpoints; Unhealthy when one has
/// never been read (e.g. 403 Forbidden from the start). The data names each service and why.
/// </summary>
public sealed class KubernetesHealthCheck : IHealthCheck
{
    private readonly KubernetesEndpointSourceFactory _factory;
    private readonly KubernetesSourceOptions _options;
    private readonly TimeProvider _time;

    /// <summary>Creates the check.</summary>
    public KubernetesHealthCheck(KubernetesEndpointSourceFactory factory, IOptions<KubernetesSourceOptions> options, TimeProvider? timeProvider = null)
    {
        _factory = factory ?? throw new ArgumentNullException(nameof(factory));
        _options = (options ?? throw new ArgumentNullException(nameof(options))).Value;
        _time = timeProvider ?? TimeProvider.System;
    }

    private static bool CanServe(Model.Endpoint endpoint)
    {
        ClientLb.Endpoints.EndpointConditions c = ClientLb.Endpoints.EndpointConditions.FromApi(endpoint.Conditions?.Ready, endpoint.Conditions?.Serving, endpoint.Conditions?.Terminating);
        return c.Ready || c.Serving;
    }

    /// <inheritdoc />
    public Task<HealthCheckResult> CheckHealthAsync(HealthCheckContext context, CancellationToken cancellationToken = default)
    {
        if (_factory.Manager is not KubernetesWatchManager manager)
        {
            return Task.FromResult(HealthCheckResult.Healthy("The Kubernetes source watches no service."));
        }
        DateTimeOffset now = _time.GetUtcNow();
        var problems = new Dictionary<string, object>(StringComparer.Ordinal);
        bool unhealthy = false;
        IReadOnlyList<ServiceView> views = manager.Views;
        foreach (ServiceView view in views)
        {
            ServiceSlices data = view.Data;
            TimeSpan stale = view.Staleness(now);
            if (!data.Synced)
            {
                if (view.Error is Exception error)
                {
                    unhealthy = true;
                    problems[view.Key] = "never read from the API: " + error.Message;
                }
            }
            else if (stale >= _options.StaleAfter && view.Error is Exception failing)
            {
                // The words `clientlb watch` prints for the same state (the source's status comes from the same view).
                problems[view.Key] = $"failing since {view.FailingSince:O}: {failing.Message} (stale for {stale.TotalSeconds:0} s, serving the last known endpoints)";
            }
            else if (!data.Slices.Any(s => s.Endpoints?.Any(CanServe) == true))
            {
                problems[view.Key] = data.Service is null ? "no such Service" : data.Slices.Any(s => s.Endpoints is { Count: > 0 }) ? "no ready or serving endpoints" : "no endpoints";
            }
        }
        if (problems.Count == 0)
        {
            return Task.FromResult(HealthCheckResult.Healthy($"{views.Count} service(s) watched, all current with endpoints."));
        }
        string summary = $"{problems.Count} of {views.Count} watched service(s): " + string.Join("; ", problems.Select(p => $"{p.Key}: {p.Value}"));
        return Task.FromResult(unhealthy
            ? new HealthCheckResult(context.Registration.FailureStatus, summary, data: problems)
            : HealthCheckResult.Degraded(summary, data: problems));
    }
}
