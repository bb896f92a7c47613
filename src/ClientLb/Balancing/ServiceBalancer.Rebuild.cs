using ClientLb.Diagnostics;
using ClientLb.Eligibility;
using ClientLb.Endpoints;
using ClientLb.Sources;
using Microsoft.Extensions.Logging;

namespace ClientLb.Balancing;

// Following the source: each change goes to the parts in turn (eligibility, then the endpoints, then health), and the
// picker built from their answers is swapped in. Everything here runs under _rebuildGate.
public sealed partial class ServiceBalancer
{
    /// <summary>Rebuilds everything from the source's current snapshot and the configuration (also when the policy configuration changed).</summary>
    internal void Rebuild()
    {
        lock (_rebuildGate)
        {
            if (Volatile.Read(ref _disposed) == 0)
            {
                RebuildLocked();
            }
        }
    }

    /// <summary>
    /// The source published: a snapshot that says what changed since the one the picker was built from is applied as a
    /// delta (O(changed) plus array copies); anything else (first snapshot, missed version, failure, eligibility rule
    /// flipping) goes through the full rebuild.
    /// </summary>
    private void OnSourceChanged()
    {
        lock (_rebuildGate)
        {
            // A notification or options change that raced with DisposeAsync must not bring endpoints back.
            if (Volatile.Read(ref _disposed) != 0)
            {
                return;
            }
            EndpointSnapshot? snapshot = Source.Current;
            SourceStatus status = Source.Status;
            if (snapshot is not null && _pickers.Policy is not null && SourceAffinity == _appliedAffinity)
            {
                if (snapshot.Version == _builtVersion)
                {
                    // Only the status moved (a failure while the last good endpoints stay, or the recovery): the
                    // picker already reflects this snapshot.
                    LogFailing(snapshot, status);
                    return;
                }
                if (snapshot is { Changes: EndpointChanges changes } && snapshot.Version == _builtVersion + 1 && status.LastError is null
                    && TryApplyLocked(snapshot, changes))
                {
                    return;
                }
            }
            RebuildLocked();
        }
    }

    /// <summary>
    /// The delta path: the eligibility builder moves its counts by the changed endpoints and names those that join, leave
    /// or change; the endpoints follow, and the picker is rebuilt over the new array. False, having changed nothing, when
    /// the change needs the full rebuild.
    /// </summary>
    private bool TryApplyLocked(EndpointSnapshot snapshot, EndpointChanges changes)
    {
        long now = _timeProvider.GetTimestamp();
        EligibleEndpoints.Change change = _endpoints.StartChange(now);
        if (!_eligibility.TryApply(changes, ref change))
        {
            return false;
        }
        _endpoints.Commit(change);
        _builtVersion = snapshot.Version;
        _deltaRebuilds++;
        _selectionView = null;
        long deadline = _health.Deadline;
        if (_pickers.TryBuildFast(_endpoints.Array, change, Volatile.Read(ref _picker) is SlowStartPicker, ref deadline) is EndpointPicker picker)
        {
            Publish(picker);
            _health.Deadline = deadline;
        }
        else
        {
            BuildPicker(now);
        }
        LogPicker(snapshot);
        foreach (BalancedEndpoint gone in change.Leaving ?? [])
        {
            _health.Left(gone);
            EligibleEndpoints.Retire(gone);
        }
        return true;
    }

    private void RebuildLocked()
    {
        EndpointSnapshot? snapshot = Source.Current;
        SourceStatus status = Source.Status;
        if (snapshot is null)
        {
            if (status.LastError is Exception initial)
            {
                Log.SourceFailedInitially(_logger, Service.Id, Source.Description, initial);
                Publish(new FailingPicker(new NoEndpointsException(Service, Source.Description,
                    "the source failed before its first answer: " + initial.Message, initial)));
                FirstPickerBuilt();
            }
            return;
        }
        LogFailing(snapshot, status);

        try
        {
            _appliedAffinity = SourceAffinity;
            BalancerSettings settings = _settings(Service).WithSourceAffinity(Source);
            _pickers.Policy = settings.Policy;
            _context.Update(settings.Options, settings.Locality);
            _health.Configure(settings.Options);
            RetryBudget.Configure(settings.Options.RetryBudget);
        }
        catch (Exception ex) when (ex is Microsoft.Extensions.Options.OptionsValidationException or Configuration.ClientLbConfigurationException)
        {
            // Invalid policy configuration: keep balancing with the last good settings rather than stop serving.
            Log.PolicyInvalid(_logger, Service.Id, ex);
            if (_pickers.Policy is null)
            {
                Publish(new FailingPicker(new NoEndpointsException(Service, Source.Description, "the balancing policy configuration is invalid: " + ex.Message, ex)));
                FirstPickerBuilt();
                return;
            }
        }

        _fullRebuilds++;
        long now = _timeProvider.GetTimestamp();
        TopologyOptions topology = _context.Options.Topology;
        _eligibility.Locate(_context.Locality.NodeName, _context.Locality.Zone, topology.Enabled ? topology.MinHealthyShare : null);
        EligibleSet set = _eligibility.Build(snapshot.Endpoints);
        List<BalancedEndpoint>? left = _endpoints.Replace(set.Selection.Eligible, now);
        _health.Recount(_endpoints.Array, now);
        _builtVersion = snapshot.Version;
        _selectionView = null;
        BuildPicker(now);
        FirstPickerBuilt();
        LogPicker(snapshot);

        // Endpoints that left: retire after the swap, so their connections close once in-flight requests end.
        foreach (BalancedEndpoint gone in left ?? [])
        {
            EligibleEndpoints.Retire(gone);
        }
    }

    private void LogFailing(EndpointSnapshot snapshot, SourceStatus status)
    {
        if (status.LastError is Exception error)
        {
            Log.SourceFailing(_logger, Service.Id, Source.Description, status.ConsecutiveFailures, snapshot.Version,
                status.Staleness(_timeProvider.GetUtcNow()), error);
        }
    }

    private void LogPicker(EndpointSnapshot snapshot)
    {
        int eligible = _endpoints.Array.Length;
        if (eligible == 0)
        {
            Log.NoEndpoints(_logger, Service.Id, _eligibility.EmptyReason);
        }
        else if (_logger.IsEnabled(LogLevel.Information)) // a source may build its description on demand
        {
            Log.PickerUpdated(_logger, Service.Id, eligible, snapshot.Endpoints.Length, Source.Description, snapshot.Version, _pickers.Policy!.Name);
        }
    }

    private TimeSpan? SourceAffinity => (Source as ISessionAffinitySource)?.ClientIpAffinityTimeout;

    // Under _rebuildGate: a new picker over the eligible endpoints (after an ejection, a return, a health verdict, a change).
    private void BuildPicker(long now)
    {
        if (_pickers.Build(_endpoints.Array, now, out long deadline) is EndpointPicker picker)
        {
            Publish(picker);
            _health.Deadline = deadline;
        }
        else
        {
            Publish(new FailingPicker(new NoEndpointsException(Service, Source.Description, _eligibility.EmptyReason)));
            _health.Deadline = long.MaxValue;
        }
    }

    private void FirstPickerBuilt() => Interlocked.Exchange(ref _firstPickerBuilt, null)?.TrySetResult();

    // Under _rebuildGate (or in the constructor): swaps the picker in and wakes whoever waits for a change.
    private void Publish(EndpointPicker picker)
    {
        Volatile.Write(ref _picker, picker);
        _pickers.Published(); // after the swap: whoever sees the picker's topology level picks with that picker
        Interlocked.Exchange(ref _pickerChanged, null)?.TrySetResult();
    }
}
