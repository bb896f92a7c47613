using System.Threading.Channels;
using ClientLb.Agent.Model;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Diagnostics;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Watching;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClientLb.Agent.Watch;

/// <summary>
/// Feeds an <see cref="NftablesAgent"/> from the Kubernetes API: lists and watches Services and EndpointSlices with
/// ClientLb.Kubernetes' list+watch loop (resourceVersion, bookmarks, re-list on 410, backoff), keeps the latest objects
/// in memory, and turns every changed Service into a <see cref="ServiceState"/>: one <see cref="NftablesAgent.SyncAsync"/>
/// with everything once the initial lists are in, then one <see cref="NftablesAgent.ApplyAsync"/> per batch of events.
/// </summary>
public sealed class KubernetesAgentController
{
    private static readonly TimeSpan MaxRetryDelay = TimeSpan.FromSeconds(30);

    private readonly IKubernetesApi _api;
    private readonly NftablesAgent _agent;
    private readonly KubernetesAgentControllerOptions _options;
    private readonly ILogger _logger;
    private readonly TimeProvider _time;
    private readonly HashSet<string>? _wanted;
    private readonly object _gate = new();
    private readonly Dictionary<string, Service> _services = new(StringComparer.Ordinal);
    private readonly Dictionary<string, (string Service, EndpointSlice Slice)> _slices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, SortedDictionary<string, EndpointSlice>> _slicesOf = new(StringComparer.Ordinal);
    private readonly HashSet<string> _dirty = new(StringComparer.Ordinal);
    private long _dirtySince; // timestamp of the oldest change not yet programmed (0: none)
    private readonly Dictionary<string, ServiceState> _sent = new(StringComparer.Ordinal);
    private readonly Channel<bool> _signal = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
    private int _running;

    /// <summary>Creates a controller; nothing is read until <see cref="RunAsync"/> or <see cref="SyncOnceAsync"/>.</summary>
    /// <exception cref="ArgumentException">An option is invalid; the message names it.</exception>
    public KubernetesAgentController(KubernetesApiClient api, NftablesAgent agent, KubernetesAgentControllerOptions options, ILogger<KubernetesAgentController>? logger = null, TimeProvider? timeProvider = null)
        : this((IKubernetesApi)api, agent, options, logger, timeProvider)
    {
    }

    /// <summary>Creates a controller over any <see cref="IKubernetesApi"/> (tests serve slices from memory).</summary>
    internal KubernetesAgentController(IKubernetesApi api, NftablesAgent agent, KubernetesAgentControllerOptions options, ILogger<KubernetesAgentController>? logger = null, TimeProvider? timeProvider = null)
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
            foreach (Scope scope in Scopes())
            {
                KubernetesList<Service> services = await _api.ListServicesAsync(scope.Namespace, scope.ServiceOptions, cancellationToken).ConfigureAwait(false);
                KubernetesList<EndpointSlice> slices = await _api.ListEndpointSlicesAsync(scope.Namespace, new ListOptions(), cancellationToken).ConfigureAwait(false);
                lock (_gate)
                {
                    services.Items.ForEach(UpsertService);
                    slices.Items.ForEach(UpsertSlice);
                }
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
        var settings = WatchSettings.From(_options.Watch);
        var watchers = new List<Task>();
        var initial = new List<Task>();
        foreach (Scope scope in Scopes())
        {
            var serviceSink = new Sink<Service>(this, UpsertService, DeleteService, ServiceKey);
            var sliceSink = new Sink<EndpointSlice>(this, UpsertSlice, DeleteSlice, SliceKey);
            initial.Add(serviceSink.Listed.Task);
            initial.Add(sliceSink.Listed.Task);
            var services = new ResourceWatcher<Service>($"services in {scope.Description}",
                token => _api.ListServicesAsync(scope.Namespace, scope.ServiceOptions, token),
                (version, timeout, token) => _api.WatchServicesAsync(scope.Namespace, scope.ServiceOptions, version, timeout, token),
                static s => s.Metadata.ResourceVersion, serviceSink, settings, _time, _logger, metrics);
            var slices = new ResourceWatcher<EndpointSlice>($"endpointslices in {scope.Description}",
                token => _api.ListEndpointSlicesAsync(scope.Namespace, new ListOptions(), token),
                (version, timeout, token) => _api.WatchEndpointSlicesAsync(scope.Namespace, new ListOptions(), version, timeout, token),
                static s => s.Metadata.ResourceVersion, sliceSink, settings, _time, _logger, metrics);
            watchers.Add(KeepRunningAsync(services.RunAsync, "services", stop.Token));
            watchers.Add(KeepRunningAsync(slices.RunAsync, "endpointslices", stop.Token));
        }
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

    /// <summary>Restarts a watch loop that ended with an error its own backoff does not handle, so updates never stop silently.</summary>
    private async Task KeepRunningAsync(Func<CancellationToken, Task> loop, string what, CancellationToken stoppingToken)
    {
        TimeSpan delay = _options.RetryDelay;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await loop(stoppingToken).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                _logger.LogError(ex, "The {What} watch loop failed; restarting it in {Delay}", what, delay);
            }
            try
            {
                await Task.Delay(delay, _time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delay = delay * 2 > MaxRetryDelay ? MaxRetryDelay : delay * 2;
        }
    }

    private void EnterRun()
    {
        if (Interlocked.Exchange(ref _running, 1) != 0)
        {
            throw new InvalidOperationException("The controller is already running.");
        }
    }

    private IEnumerable<Scope> Scopes()
    {
        if (_wanted is not null)
        {
            return _wanted.Select(static key => key[..key.IndexOf('/', StringComparison.Ordinal)]).Distinct(StringComparer.Ordinal).Order(StringComparer.Ordinal)
                .Select(static ns => new Scope(ns, new ListOptions()));
        }
        return [new Scope(_options.Namespace ?? "", new ListOptions(_options.LabelSelector))];
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
            states = [.. _services.Keys.Order(StringComparer.Ordinal).Select(Build).OfType<ServiceState>()];
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
                if (Build(key) is ServiceState state)
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

    /// <summary>The state of a service from the objects in memory; null when absent or without a VIP. Under the lock.</summary>
    private ServiceState? Build(string key)
    {
        if (!_services.TryGetValue(key, out Service? service))
        {
            _agent.NoteDroppedEndpoints(key, []);
            return null;
        }
        IEnumerable<EndpointSlice> slices = _slicesOf.TryGetValue(key, out SortedDictionary<string, EndpointSlice>? own) ? own.Values : [];
        var warnings = new List<string>();
        var dropped = new List<string>();
        ServiceState? state = ServiceStateMapper.Map(service, slices, out string? skipped, warnings, (record, reason) =>
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

    private static string ServiceKey(Service s) => (s.Metadata.Namespace ?? "") + "/" + (s.Metadata.Name ?? "");

    private static string SliceKey(EndpointSlice s) => (s.Metadata.Namespace ?? "") + "/" + (s.Metadata.Name ?? "");

    private bool Wanted(string key) => _wanted is null || _wanted.Contains(key);

    private void MarkDirty(string key)
    {
        if (_dirty.Count == 0)
        {
            _dirtySince = _time.GetTimestamp();
        }
        _dirty.Add(key);
        _signal.Writer.TryWrite(true);
    }

    private void UpsertService(Service service)
    {
        string key = ServiceKey(service);
        if (Wanted(key))
        {
            _services[key] = service;
            MarkDirty(key);
        }
    }

    private void DeleteService(Service service)
    {
        string key = ServiceKey(service);
        if (_services.Remove(key))
        {
            MarkDirty(key);
        }
    }

    private void UpsertSlice(EndpointSlice slice)
    {
        string key = SliceKey(slice);
        string? owner = slice.Metadata.Labels?.GetValueOrDefault(ServiceStateMapper.ServiceNameLabel) is { Length: > 0 } name
            ? (slice.Metadata.Namespace ?? "") + "/" + name
            : null;
        if (owner is null || !Wanted(owner))
        {
            DeleteSlice(slice); // it may have belonged to a wanted service before a label change
            return;
        }
        if (_slices.TryGetValue(key, out var old) && old.Service != owner)
        {
            DeleteSlice(slice);
        }
        _slices[key] = (owner, slice);
        if (!_slicesOf.TryGetValue(owner, out SortedDictionary<string, EndpointSlice>? own))
        {
            _slicesOf[owner] = own = new SortedDictionary<string, EndpointSlice>(StringComparer.Ordinal);
        }
        own[key] = slice;
        MarkDirty(owner);
    }

    private void DeleteSlice(EndpointSlice slice)
    {
        string key = SliceKey(slice);
        if (!_slices.Remove(key, out var old))
        {
            return;
        }
        if (_slicesOf.TryGetValue(old.Service, out SortedDictionary<string, EndpointSlice>? own))
        {
            own.Remove(key);
            if (own.Count == 0)
            {
                _slicesOf.Remove(old.Service);
            }
        }
        MarkDirty(old.Service);
    }

    private sealed record Scope(string Namespace, ListOptions ServiceOptions)
    {
        public string Description => Namespace.Length == 0 ? "all namespaces" : "namespace " + Namespace;
    }

    /// <summary>Applies one watch loop's news to the controller's objects; a re-list removes what it no longer has.</summary>
    private sealed class Sink<T>(KubernetesAgentController owner, Action<T> upsert, Action<T> delete, Func<T, string> keyOf) : IWatchSink<T>
    {
        private readonly Dictionary<string, T> _known = new(StringComparer.Ordinal);

        public TaskCompletionSource Listed { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void OnListed(IReadOnlyList<T> items)
        {
            lock (owner._gate)
            {
                var fresh = new Dictionary<string, T>(StringComparer.Ordinal);
                foreach (T item in items)
                {
                    fresh[keyOf(item)] = item;
                }
                foreach ((string key, T gone) in _known)
                {
                    if (!fresh.ContainsKey(key))
                    {
                        delete(gone);
                    }
                }
                _known.Clear();
                foreach ((string key, T item) in fresh)
                {
                    _known[key] = item;
                    upsert(item);
                }
            }
            Listed.TrySetResult();
        }

        public void OnUpsert(T item)
        {
            lock (owner._gate)
            {
                _known[keyOf(item)] = item;
                upsert(item);
            }
        }

        public void OnDeleted(T item)
        {
            lock (owner._gate)
            {
                _known.Remove(keyOf(item));
                delete(item);
            }
        }

        public void OnRecovered()
        {
        }

        public void OnFailure(Exception error, int attempt, TimeSpan retryIn)
        {
        }
    }
}
