using System.Threading.Channels;
using ClientLb.Agent.Model;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Diagnostics;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Watching;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClientLb.Agent.Controller;

/// <summary>
/// Feeds an <see cref="NftablesAgent"/> from the Kubernetes API: follows the Services and EndpointSlices with
/// ClientLb.Kubernetes' <see cref="EndpointSliceWatch"/> (its list+watch loop and slice cache, the SDK's), and turns every
/// changed Service into a <see cref="ServiceState"/> with the SDK's slice mapping: one <see cref="NftablesAgent.SyncAsync"/>
/// with everything once the initial lists are in, then one <see cref="NftablesAgent.ApplyAsync"/> per batch of events.
/// </summary>
public sealed class KubernetesAgentController
{
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    private readonly KubernetesApiClient _api;
    private readonly NftablesAgent _agent;
    private readonly KubernetesAgentControllerOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly HashSet<string>? _wanted;
    private readonly object _gate = new();
    // One watch per namespace followed (one for all in node mode without a namespace); set when a run starts.
    private IReadOnlyList<EndpointSliceWatch> _watches = [];
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private long _dirtySince; // timestamp of the oldest change not yet programmed (0: none)
    private readonly Dictionary<string, ServiceState> _sent = new(StringComparer.Ordinal);
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private int _running;

    /// <summary>Creates a controller; nothing is read until <see cref="RunAsync"/> or <see cref="SyncOnceAsync"/>.</summary>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public KubernetesAgentController(KubernetesApiClient api, NftablesAgent agent, KubernetesAgentControllerOptions options, ILogger<KubernetesAgentController>? logger = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(agent);
        ArgumentNullException.ThrowIfNull(options);
        options.Validate();
        _api = api;
        _agent = agent;
        _options = options;
        _logger = (ILogger?)logger ?? NullLogger.Instance;
        _time = timeProvider ?? TimeProvider.System;
        _wanted = options.Services.Count > 0 ? new HashSet<string>(options.Services, StringComparer.Ordinal) : null;
    }

    /// <summary>The services last sent to the agent, by <c>namespace/name</c>.</summary>
    public IReadOnlyDictionary<string, ServiceState> Programmed
    {
        get
        {
            lock (_gate)
            {
                return new Dictionary<string, ServiceState>(_sent, StringComparer.Ordinal);
            }
        }
    }

    /// <summary>Lists Services and EndpointSlices once and makes one <see cref="NftablesAgent.SyncAsync"/> with everything (<c>--once</c>).</summary>
    /// <exception cref="KubernetesApiException">A list failed.</exception>
    public async Task<AgentBatch> SyncOnceAsync(CancellationToken cancellationToken = default)
    {
        EnterRun();
        try
        {
            IReadOnlyList<EndpointSliceWatch> watches = StartWatches(metrics: null);
            foreach (EndpointSliceWatch watch in watches)
            {
                await watch.ListOnceAsync(cancellationToken).ConfigureAwait(false);
            }
            return await SyncAllAsync(cancellationToken).ConfigureAwait(false);
        }
        finally
        {
            Volatile.Write(ref _running, 0);
        }
    }

    /// <summary>
    /// Watches until <paramref name="cancellationToken"/> is cancelled: one full sync after the initial lists, then one
    /// incremental sync per batch of events (events within <see cref="KubernetesAgentControllerOptions.BatchDelay"/>
    /// are coalesced). A failed sync is retried with backoff; API failures are retried by the watch loops.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        EnterRun();
        using var metrics = new KubernetesMetrics();
        using var stop = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        IReadOnlyList<EndpointSliceWatch> watches = StartWatches(metrics);
        Task[] watchers = [.. watches.Select(w => w.RunAsync(stop.Token))];
        Task[] initial = [.. watches.Select(static w => w.Listed)];
        try
        {
            await Task.WhenAll(initial).WaitAsync(stop.Token).ConfigureAwait(false);
            await RetryAsync(token => SyncAllAsync(token), stop.Token).ConfigureAwait(false);
            while (true)
            {
                await _signal.Reader.ReadAsync(stop.Token).ConfigureAwait(false);
                if (_options.BatchDelay > TimeSpan.Zero)
                {
                    await Task.Delay(_options.BatchDelay, _time, stop.Token).ConfigureAwait(false);
                }
                _signal.Reader.TryRead(out _);
                await RetryAsync(ApplyDirtyAsync, stop.Token).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
        {
        }
        finally
        {
            await stop.CancelAsync().ConfigureAwait(false);
            await Task.WhenAll(watchers).ConfigureAwait(false);
            Volatile.Write(ref _running, 0);
        }
    }

    private void EnterRun()
    {
        if (Interlocked.Exchange(ref _running, 1) != 0)
        {
            throw new InvalidOperationException("The controller is already running.");
        }
    }

    /// <summary>The watches of this run: one per namespace of the selected services (sidecar), else one for the namespace or all.</summary>
    private IReadOnlyList<EndpointSliceWatch> StartWatches(KubernetesMetrics? metrics)
    {
        IEnumerable<(string Namespace, string? Selector)> scopes = _wanted is not null
            ? _wanted.Select(static key => key[..key.IndexOf('/', StringComparison.Ordinal)]).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
                .Select(static ns => (ns, (string?)null))
            : [(_options.Namespace ?? "", _options.LabelSelector)];
        Func<string, string, bool>? wanted = _wanted is null ? null : (ns, name) => _wanted.Contains(ns + "/" + name);
        List<EndpointSliceWatch> watches = [.. scopes.Select(scope => new EndpointSliceWatch(_api, scope.Namespace, MarkDirty, scope.Selector, wanted, _options.Watch, _time, _logger, metrics))];
        lock (_gate)
        {
            _watches = watches;
        }
        return watches;
    }

    private async Task RetryAsync(Func<CancellationToken, Task> sync, CancellationToken cancellationToken)
    {
        TimeSpan delay = _options.RetryDelay;
        for (int attempt = 1; ; attempt++)
        {
            try
            {
                await sync(cancellationToken).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (ex is not OperationCanceledException)
            {
                _logger.LogError(ex, "Agent sync failed (attempt {Attempt}); retrying in {Delay}", attempt, delay);
                await Task.Delay(delay, _time, cancellationToken).ConfigureAwait(false);
                delay = delay * 2 > MaxRetryDelay ? MaxRetryDelay : delay * 2;
            }
        }
    }

    private async Task<AgentBatch> SyncAllAsync(CancellationToken cancellationToken)
    {
        List<ServiceState> states;
        lock (_gate)
        {
            _dirty.Clear();
            states = [.. _watches.SelectMany(static w => w.Cache.GetAll()).Where(static s => s.HasService).OrderBy(static s => Key(s.Namespace, s.Name), StringComparer.Ordinal)
                .Select(s => Build(Key(s.Namespace, s.Name), s)).OfType<ServiceState>()];
        }
        SyncResult result = await _agent.SyncAsync(states, cancellationToken).ConfigureAwait(false);
        List<string> removed;
        lock (_gate)
        {
            removed = [.. _sent.Keys.Except(states.Select(static s => s.Key), StringComparer.Ordinal)];
            _sent.Clear();
            states.ForEach(s => _sent[s.Key] = s);
        }
        var batch = new AgentBatch(true, states, removed, result);
        _options.OnBatch?.Invoke(batch);
        return batch;
    }

    private async Task ApplyDirtyAsync(CancellationToken cancellationToken)
    {
        List<string> keys;
        long since;
        var upserts = new List<ServiceState>();
        var removed = new List<string>();
        lock (_gate)
        {
            keys = [.. _dirty.Order(StringComparer.Ordinal)];
            _dirty.Clear();
            since = _dirtySince;
            foreach (string key in keys)
            {
                if (Build(key, SlicesOf(key)) is ServiceState state)
                {
                    if (!_sent.TryGetValue(key, out ServiceState? old) || !old.Equals(state))
                    {
                        upserts.Add(state);
                    }
                }
                else if (_sent.ContainsKey(key))
                {
                    removed.Add(key);
                }
            }
        }
        if (upserts.Count == 0 && removed.Count == 0)
        {
            return;
        }
        SyncResult result;
        try
        {
            result = await _agent.ApplyAsync(upserts, removed, cancellationToken).ConfigureAwait(false);
        }
        catch
        {
            lock (_gate)
            {
                // Rebuilt from the latest objects on the retry; the latency still counts from the first change.
                _dirtySince = _dirty.Count == 0 ? since : Math.Min(since, _dirtySince);
                _dirty.UnionWith(keys);
            }
            throw;
        }
        _agent.Metrics.RecordProgrammingLatency(_time.GetElapsedTime(since));
        lock (_gate)
        {
            upserts.ForEach(s => _sent[s.Key] = s);
            removed.ForEach(k => _sent.Remove(k));
        }
        _options.OnBatch?.Invoke(new AgentBatch(false, upserts, removed, result));
    }

    /// <summary>The service as its watch has it now (no Service object when none has it).</summary>
    private ServiceSlices SlicesOf(string key)
    {
        int slash = key.IndexOf('/', StringComparison.Ordinal);
        string ns = key[..slash], name = key[(slash + 1)..];
        ServiceSlices? found = null;
        foreach (EndpointSliceWatch watch in _watches)
        {
            found = watch.Cache.Get(ns, name);
            if (found.HasService)
            {
                break;
            }
        }
        return found ?? throw new InvalidOperationException("The controller has no watch.");
    }

    /// <summary>The state of a service from its watch's cache; null when absent or without a VIP. Under the lock.</summary>
    private ServiceState? Build(string key, ServiceSlices slices)
    {
        if (!slices.HasService)
        {
            _agent.NoteDroppedEndpoints(key, []);
            return null;
        }
        var warnings = new List<string>();
        var dropped = new List<string>();
        ServiceState? state = ServiceStateMapper.Map(slices, out string? skipped, warnings, (record, reason) =>
        {
            ClientLb.Diagnostics.DroppedRecords.Report(_logger, key, "agent", record, reason);
            dropped.Add($"{record}: {reason}; endpoint left out");
        });
        _agent.NoteDroppedEndpoints(key, dropped);
        foreach (string warning in warnings)
        {
            _logger.LogWarning("Service {Service}: {Warning}", key, warning);
        }
        if (skipped is not null)
        {
            _logger.LogDebug("Service {Service} skipped: {Reason}", key, skipped);
        }
        return state;
    }

    private static string Key(string ns, string name) => ns + "/" + name;

    /// <summary>A watch changed the service: program it with the next batch.</summary>
    private void MarkDirty(string ns, string name)
    {
        lock (_gate)
        {
            MarkDirty(Key(ns, name));
        }
    }

    private void MarkDirty(string key)
    {
        if (_dirty.Count == 0)
        {
            _dirtySince = _time.GetTimestamp();
        }
        _dirty.Add(key);
        _signal.Writer.TryWrite(true);
    }
}
