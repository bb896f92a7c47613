using System.Collections.Concurrent;
using System.Diagnostics;
using ClientLb.Agent.Conntrack;
using ClientLb.Agent.Diagnostics;
using ClientLb.Agent.Interop;
using ClientLb.Agent.Model;
using ClientLb.Agent.Ruleset;
using ClientLb.Agent.State;
using ClientLb.Agent.Validation;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClientLb.Agent;

/// <summary>
/// Programs Service VIP to endpoint translation into nftables (tables <c>ip clientlb</c> and <c>ip6 clientlb</c>). Feed it the
/// desired services with <see cref="SyncAsync"/> (all of them) or <see cref="ApplyAsync"/> (changes); each call sends the
/// kernel only what changed, as one transaction. The first call reads what an earlier run left in the kernel and
/// reconciles with it without interrupting traffic. Rules stay when the agent stops; <see cref="CleanupAsync"/> removes them.
/// Calls are serialized.
/// </summary>
public sealed class NftablesAgent : IDisposable
{
    private readonly NftablesAgentOptions _options;
    private readonly INftablesRunner _runner;
    private readonly IConntrackCleaner? _conntrack;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly SemaphoreSlim _gate = new(1, 1);
    private readonly bool _ownsRunner;
    private ProgrammedState _state = new();
    private bool _routeLocalnet;
    private IReadOnlyList<ServiceRejection> _lastRejected = [];
    private readonly ConcurrentDictionary<string, IReadOnlyList<string>> _sourceDrops = new(StringComparer.Ordinal);

    /// <summary>Creates an agent that talks to the kernel through libnftables (or prints, with <see cref="NftablesAgentOptions.DryRun"/>).</summary>
    /// <exception cref="ArgumentException">An option is invalid.</exception>
    /// <exception cref="NftablesException">libnftables or the network namespace is not available.</exception>
    public NftablesAgent(NftablesAgentOptions options, ILogger<NftablesAgent>? logger = null)
        : this(options, CreateRunner(options), options.ConntrackCleanup && !options.DryRun ? new ConntrackTool(options.NetworkNamespace, options.ConntrackPath) : null, logger)
    {
        _ownsRunner = true;
    }

    /// <summary>
    /// Creates an agent over a given runner and conntrack cleaner (tests, embedding); the caller disposes the runner.
    /// <paramref name="timeProvider"/> dates the last successful sync (<see cref="AgentMetrics.IsHealthy"/>).
    /// </summary>
    public NftablesAgent(NftablesAgentOptions options, INftablesRunner runner, IConntrackCleaner? conntrack, ILogger<NftablesAgent>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _options = options;
        _runner = runner ?? throw new ArgumentNullException(nameof(runner));
        _conntrack = conntrack;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
    }

    /// <summary>Counters for <c>/metrics</c> and <c>/healthz</c>.</summary>
    public AgentMetrics Metrics { get; } = new();

    /// <summary>Services programmed now.</summary>
    public int ServiceCount => _state.Plans.Count;

    /// <summary>Set and map elements programmed now.</summary>
    public int ElementCount => _state.ElementCount;

    /// <summary>
    /// Makes the kernel match <paramref name="services"/>, the complete desired state: services not listed are removed.
    /// Invalid services are rejected (see <see cref="SyncResult.Rejected"/>) and the rest is programmed.
    /// </summary>
    /// <exception cref="NftablesException">The kernel refused the transaction; nothing of it applied and the state is unchanged.</exception>
    public Task<SyncResult> SyncAsync(IReadOnlyList<ServiceState> services, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(services);
        return RunAsync(services, [], full: true, cancellationToken);
    }

    /// <summary>
    /// Applies changes: <paramref name="upserts"/> are added or replaced, <paramref name="removals"/> (<c>namespace/name</c>)
    /// removed; other services stay.
    /// </summary>
    /// <exception cref="InvalidOperationException"><see cref="SyncAsync"/> has not succeeded yet since the start or the last cleanup.</exception>
    /// <exception cref="NftablesException">The kernel refused the transaction; nothing of it applied and the state is unchanged.</exception>
    public Task<SyncResult> ApplyAsync(IReadOnlyList<ServiceState> upserts, IReadOnlyCollection<string> removals, CancellationToken cancellationToken = default)
    {
        ArgumentNullException.ThrowIfNull(upserts);
        ArgumentNullException.ThrowIfNull(removals);
        return RunAsync(upserts, removals, full: false, cancellationToken);
    }

    /// <summary>
    /// What is programmed now, from the agent's own state (never a kernel read): each service's VIP ports with the
    /// endpoints they translate to (the committed input, selected and validated as the sync did), the endpoints left out
    /// and why (by the watch's mapping or by validation), the last sync's outcome and rejections. Waits for a sync in progress to finish.
    /// </summary>
    public async Task<ProgrammedRules> GetProgrammedRulesAsync(CancellationToken cancellationToken = default)
    {
        ServiceState[] inputs;
        IReadOnlyList<ServiceRejection> rejected;
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            inputs = [.. _state.Inputs.Values];
            rejected = _lastRejected;
        }
        finally
        {
            _gate.Release();
        }
        // Validation is pure: the committed input yields the very ports and targets its plan was rendered from.
        ValidationPolicy policy = _options.ValidationPolicy();
        var services = new List<ProgrammedService>(inputs.Length);
        foreach (ServiceState input in inputs.OrderBy(static s => s.Namespace, StringComparer.Ordinal).ThenBy(static s => s.Name, StringComparer.Ordinal))
        {
            if (!Validation.ServiceValidator.TryValidate(input, policy, out Validation.ValidatedService? validated, out _))
            {
                continue; // never committed: only inputs that validated are kept
            }
            var ports = validated.Ports.Select(p => new ProgrammedPort(
                p.Vip.ToString(), Model.ServiceProtocols.Keyword(p.Protocol), p.Port,
                input.Ports.FirstOrDefault(i => i.Protocol == p.Protocol && i.Port == p.Port)?.Name,
                [.. p.Targets.Select(static t => new ProgrammedEndpoint(t.Address.ToString(), t.Port, Math.Max(1, t.Weight)))],
                p.Targets.IsEmpty ? p.EmptyReason : null)).ToList();
            IReadOnlyList<string> sourceDrops = _sourceDrops.GetValueOrDefault(input.Key) ?? [];
            services.Add(new ProgrammedService(input.Namespace, input.Name, validated.AffinityTimeoutSeconds, ports, [.. sourceDrops, .. validated.Dropped]));
        }
        return new ProgrammedRules
        {
            Tables = [.. Family.All.Select(static f => f.Table)],
            Mode = _options.Mode == AgentMode.Sidecar ? "sidecar" : "node",
            NetworkNamespace = _options.NetworkNamespace,
            DryRun = _options.DryRun,
            LastSuccess = Metrics.LastSuccess,
            LastError = Metrics.LastError,
            Services = services,
            Rejected = rejected,
        };
    }

    /// <summary>
    /// Records the endpoints the source (the Kubernetes watch) left out of a service before it reached the agent, with
    /// their reasons, for <see cref="GetProgrammedRulesAsync"/>; an empty list forgets them.
    /// </summary>
    internal void NoteDroppedEndpoints(string serviceKey, IReadOnlyList<string> reasons)
    {
        if (reasons.Count == 0)
        {
            _sourceDrops.TryRemove(serviceKey, out _);
        }
        else
        {
            _sourceDrops[serviceKey] = reasons;
        }
    }

    /// <summary>Deletes both <c>clientlb</c> tables (everything the agent owns) and forgets the programmed state.</summary>
    public async Task CleanupAsync(CancellationToken cancellationToken = default)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            // "add" first makes the delete succeed when a table is absent (nft 1.0.6 has no "destroy").
            string commands = string.Concat(Family.All.Select(f => $"add table {f.Table}\ndelete table {f.Table}\n"));
            await _runner.RunAsync(commands, cancellationToken).ConfigureAwait(false);
            _state = new ProgrammedState();
            _lastRejected = [];
            _logger.LogInformation("Removed tables ip {Table} and ip6 {Table}", Layout.TableName, Layout.TableName);
        }
        finally
        {
            _gate.Release();
        }
    }

    /// <summary>Stops the libnftables thread when the agent created it. The rules stay in the kernel.</summary>
    public void Dispose()
    {
        if (_ownsRunner)
        {
            _runner.Dispose();
        }
        _gate.Dispose();
    }

    private async Task<SyncResult> RunAsync(IReadOnlyList<ServiceState> upserts, IReadOnlyCollection<string> removals, bool full, CancellationToken cancellationToken)
    {
        await _gate.WaitAsync(cancellationToken).ConfigureAwait(false);
        try
        {
            long start = Stopwatch.GetTimestamp();
            try
            {
                SyncResult result = await SyncCoreAsync(upserts, removals, full, start, cancellationToken).ConfigureAwait(false);
                Metrics.RecordSuccess(result, _state.Plans.Count, _state.ElementCount, _time.GetUtcNow());
                _lastRejected = result.Rejected;
                return result;
            }
            catch (NftablesException e)
            {
                Metrics.RecordFailure(Stopwatch.GetElapsedTime(start), e.Message);
                _logger.LogError(e, "Sync failed; nothing of it was applied");
                throw;
            }
        }
        finally
        {
            _gate.Release();
        }
    }

    private async Task<SyncResult> SyncCoreAsync(IReadOnlyList<ServiceState> upserts, IReadOnlyCollection<string> removals, bool full, long start, CancellationToken cancellationToken)
    {
        if (!full && (!_state.SkeletonApplied || _state.TrustsGenerations))
        {
            // A restart re-declares the endpoint maps in its first transaction (see Skeleton.Keeps); only a complete
            // desired state can refill them, so the first call after a start or a cleanup must be SyncAsync.
            throw new InvalidOperationException("The first sync of an agent must be SyncAsync with every service, not ApplyAsync.");
        }
        if (!_state.SnapshotRead)
        {
            await ReadKernelAsync(cancellationToken).ConfigureAwait(false);
        }
        var planner = new SyncPlanner(_state, _options.Mode, _options.ChunkElements, _options.ValidationPolicy());
        PendingSync sync = planner.Plan(upserts, removals, full);
        if (_state.TrustsGenerations && !_state.StaleRead && sync.StaleKeys.Count > 0)
        {
            // A restart: services changed or went while the agent was down. Read only their shards, then plan again.
            await KernelReader.ReadStaleAsync(_runner, _options.Mode, _state, sync.StaleKeys, cancellationToken).ConfigureAwait(false);
            _logger.LogInformation("Read the endpoint maps of {Stale} service ports that changed while the agent was down", sync.StaleKeys.Count);
            sync = planner.Plan(upserts, removals, full);
        }
        foreach (ServiceRejection rejection in sync.Rejected)
        {
            _logger.LogWarning("Service {Service} rejected: {Reason}", rejection.Service, rejection.Reason);
        }
        foreach (ServiceRejection dropped in sync.DroppedEndpoints)
        {
            _logger.LogWarning("Service {Service} programmed without an endpoint: {Reason}", dropped.Service, dropped.Reason);
        }
        long kernelStart = Stopwatch.GetTimestamp();
        if (sync.LoopbackVips && !_routeLocalnet)
        {
            // Before the rules: a connection to a 127.0.0.0/8 VIP is DNATed out of lo with a loopback source, which the
            // kernel drops unless route_localnet is on; the fixed nat-postrouting rule then masquerades it.
            await _runner.EnableRouteLocalnetAsync(cancellationToken).ConfigureAwait(false);
            _routeLocalnet = true;
            _logger.LogInformation("Set net.ipv4.conf.all.route_localnet=1 in {Namespace} for 127.0.0.0/8 VIPs", _options.NetworkNamespace ?? "the agent's namespace");
        }
        for (int i = 0; i < sync.Transactions.Count; i++)
        {
            try
            {
                await _runner.RunAsync(sync.Transactions[i], cancellationToken).ConfigureAwait(false);
            }
            catch (NftablesException) when (i > 0)
            {
                // Earlier chunks of a cold start are in the kernel; re-read it on the next sync to stay exact.
                _state = new ProgrammedState();
                throw;
            }
        }
        TimeSpan kernel = Stopwatch.GetElapsedTime(kernelStart);
        _state.Commit(sync);
        IReadOnlyList<string> conntrackFailures = [];
        if (_conntrack is not null && sync.Conntrack.Count > 0)
        {
            conntrackFailures = await _conntrack.DeleteAsync(sync.Conntrack, cancellationToken).ConfigureAwait(false);
            foreach (string failure in conntrackFailures)
            {
                _logger.LogWarning("Conntrack cleanup failed: {Failure}", failure);
            }
        }
        var result = new SyncResult
        {
            Transactions = sync.Transactions.Count,
            ServicesChanged = sync.Changes.Count,
            ElementsAdded = sync.Adds.Count,
            ElementsDeleted = sync.Deletes.Count,
            Rejected = sync.Rejected,
            DroppedEndpoints = sync.DroppedEndpoints,
            ConntrackFilters = sync.Conntrack.Count,
            ConntrackFailures = conntrackFailures,
            Duration = Stopwatch.GetElapsedTime(start),
            KernelDuration = kernel,
        };
        if (result.ServicesChanged > 0)
        {
            _logger.LogInformation("Synced {Changed} services: +{Added}/-{Deleted} elements in {Transactions} transactions, {Ms:F2} ms",
                result.ServicesChanged, result.ElementsAdded, result.ElementsDeleted, result.Transactions, result.Duration.TotalMilliseconds);
        }
        return result;
    }

    private async Task ReadKernelAsync(CancellationToken cancellationToken)
    {
        if (await KernelReader.ReadAsync(_runner, _options.Mode, _state, cancellationToken).ConfigureAwait(false))
        {
            _logger.LogInformation(_state.TrustsGenerations
                ? "Found this layout from an earlier run ({Elements} generation and small-set elements read); reconciling without a flush"
                : "Found {Elements} elements of an earlier run in another layout; rebuilding it in one transaction", _state.ElementCount);
        }
    }

    private static INftablesRunner CreateRunner(NftablesAgentOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        return options.DryRun ? new DryRunRunner(options.DryRunOutput ?? Console.Out) : new LibNftablesRunner(options.NetworkNamespace);
    }
}
