using ClientLb.Diagnostics;
using ClientLb.Endpoints;
using ClientLb.ServiceDiscovery;
using ClientLb.Sources;
using Microsoft.Extensions.Logging;

namespace ClientLb.LoadBalancing;

/// <summary>
/// Balances one service: follows its source, decides which endpoints are eligible (<see cref="EndpointSelector"/>),
/// builds an immutable picker with the service's policy and swaps it in. <see cref="Pick"/> reads one reference.
/// </summary>
public sealed class ServiceBalancer : IAsyncDisposable
{
    private readonly Lock _rebuildGate = new();
    private readonly Func<ILoadBalancingPolicy> _policy;
    private readonly ILogger _logger;
    private readonly IDisposable _subscription;
    private readonly Dictionary<string, BalancedEndpoint> _byAuthority = new(StringComparer.Ordinal);
    private EndpointPicker _picker;
    private EndpointSelection? _selection;
    private bool _ready;

    private readonly TimeProvider _timeProvider;

    internal ServiceBalancer(ServiceName service, IEndpointSource source, Func<ILoadBalancingPolicy> policy, ILogger logger, TimeProvider timeProvider)
    {
        _timeProvider = timeProvider;
        Service = service;
        Source = source;
        _policy = policy;
        _logger = logger;
        _picker = new FailingPicker(new NoEndpointsException(source.Service, source.Description, "the source has not answered yet"));
        _subscription = source.Subscribe(_ => Rebuild());
        source.Start();
        Rebuild();
    }

    /// <summary>The service, with the scheme preference of the URI that asked for it.</summary>
    public ServiceName Service { get; }

    /// <summary>The source it follows (shared with every other balancer of the same service).</summary>
    public IEndpointSource Source { get; }

    /// <summary>The current picker.</summary>
    public EndpointPicker Picker => Volatile.Read(ref _picker);

    /// <summary>How many endpoints are eligible now.</summary>
    public int EligibleCount => Picker.Endpoints.Count;

    /// <summary>The current eligibility decision, or null before the first snapshot.</summary>
    public EndpointSelection? Selection => Volatile.Read(ref _selection);

    /// <summary>Picks an endpoint. Throws <see cref="NoEndpointsException"/> at once when none is eligible.</summary>
    public BalancedEndpoint Pick(in PickContext context) => Volatile.Read(ref _picker).Pick(context);

    /// <summary>
    /// Completes when the source has answered once (at once after that), so a first request does not fail
    /// merely because discovery is still starting. Bounded by <paramref name="timeout"/>.
    /// </summary>
    public ValueTask EnsureReadyAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        return Volatile.Read(ref _ready) ? ValueTask.CompletedTask : WaitAsync(timeout, cancellationToken);
    }

    private async ValueTask WaitAsync(TimeSpan timeout, CancellationToken cancellationToken)
    {
        try
        {
            await Source.GetSnapshotAsync(cancellationToken).AsTask().WaitAsync(timeout, cancellationToken).ConfigureAwait(false);
        }
        catch (TimeoutException ex)
        {
            throw new NoEndpointsException(Service, Source.Description, $"the source gave no answer within {timeout.TotalSeconds:0.###} s", ex);
        }
        catch (EndpointSourceException ex)
        {
            throw new NoEndpointsException(Service, Source.Description, "the source failed before its first answer: " + (ex.InnerException?.Message ?? ex.Message), ex);
        }
        Volatile.Write(ref _ready, true);
    }

    /// <summary>Rebuilds the picker from the source's current snapshot (also when the policy configuration changed).</summary>
    internal void Rebuild()
    {
        lock (_rebuildGate)
        {
            EndpointSnapshot? snapshot = Source.Current;
            SourceStatus status = Source.Status;
            if (snapshot is null)
            {
                if (status.LastError is Exception initial)
                {
                    Log.SourceFailedInitially(_logger, Service.Id, Source.Description, initial);
                    Volatile.Write(ref _picker, new FailingPicker(new NoEndpointsException(Service, Source.Description,
                        "the source failed before its first answer: " + initial.Message, initial)));
                }
                return;
            }
            if (status.LastError is Exception error)
            {
                Log.SourceFailing(_logger, Service.Id, Source.Description, status.ConsecutiveFailures, snapshot.Version,
                    status.Staleness(_timeProvider.GetUtcNow()), error);
            }

            EndpointSelection selection = EndpointSelector.Select(SchemeFilter.Apply(snapshot.Endpoints, Service.Schemes));
            var eligible = new List<BalancedEndpoint>(selection.Eligible.Length);
            var seen = new HashSet<string>(StringComparer.Ordinal);
            foreach (Endpoint endpoint in selection.Eligible)
            {
                if (!_byAuthority.TryGetValue(endpoint.Authority, out BalancedEndpoint? balanced) || balanced.IsRetired)
                {
                    balanced = new BalancedEndpoint(endpoint, Service.Id);
                    _byAuthority[endpoint.Authority] = balanced;
                }
                else
                {
                    balanced.Update(endpoint);
                }
                seen.Add(endpoint.Authority);
                eligible.Add(balanced);
            }

            EndpointPicker picker;
            ILoadBalancingPolicy policy;
            try
            {
                policy = _policy();
            }
            catch (Exception ex) when (ex is Microsoft.Extensions.Options.OptionsValidationException or Configuration.ClientLbConfigurationException)
            {
                // Invalid policy configuration: keep balancing with the picker we have rather than stop serving.
                Log.PolicyInvalid(_logger, Service.Id, ex);
                if (_picker is FailingPicker)
                {
                    Volatile.Write(ref _picker, new FailingPicker(new NoEndpointsException(Service, Source.Description, "the balancing policy configuration is invalid: " + ex.Message, ex)));
                }
                return;
            }
            if (eligible.Count == 0)
            {
                string reason = selection.EmptyReason ?? "no eligible endpoints";
                Log.NoEndpoints(_logger, Service.Id, reason);
                picker = new FailingPicker(new NoEndpointsException(Service, Source.Description, reason));
            }
            else
            {
                picker = policy.CreatePicker(eligible);
                Log.PickerUpdated(_logger, Service.Id, eligible.Count, snapshot.Endpoints.Length, Source.Description, snapshot.Version, policy.Name);
            }
            Volatile.Write(ref _selection, selection);
            Volatile.Write(ref _picker, picker);

            // Endpoints that left: retire after the swap, so their connections close once in-flight requests end.
            foreach (string authority in _byAuthority.Keys.Where(a => !seen.Contains(a)).ToList())
            {
                _byAuthority.Remove(authority, out BalancedEndpoint? gone);
                gone!.Retire();
            }
        }
    }

    /// <summary>Stops following the source (which the registry owns) and closes idle connections.</summary>
    public ValueTask DisposeAsync()
    {
        _subscription.Dispose();
        lock (_rebuildGate)
        {
            foreach (BalancedEndpoint endpoint in _byAuthority.Values)
            {
                endpoint.Retire();
            }
            _byAuthority.Clear();
        }
        return ValueTask.CompletedTask;
    }

    /// <inheritdoc />
    public override string ToString() => $"{Service} via {Source.Description}: {EligibleCount} eligible";
}
