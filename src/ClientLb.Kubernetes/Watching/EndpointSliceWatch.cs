using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Diagnostics;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Slices;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClientLb.Kubernetes.Watching;

/// <summary>
/// Lists and watches the Services and EndpointSlices of one namespace, or of all, into an <see cref="EndpointSliceCache"/>
/// with the SDK's list+watch loop (resourceVersion, bookmarks, one fresh list on 410 Gone, backoff on every failure,
/// periodic resync), and tells its owner which services changed. The agent's controller follows one per namespace it
/// programs and maps each changed service with <see cref="ServiceSlices.MapEndpoints"/>.
/// </summary>
public sealed class EndpointSliceWatch
{
    private static readonly TimeSpan MaxRestartDelay = TimeSpan.FromSeconds(30);

    private readonly IKubernetesApi _api;
    private readonly string _namespace;
    private readonly ListOptions _serviceOptions;
    private readonly Action<string, string> _changed;
    private readonly WatchSettings _settings;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly KubernetesMetrics? _metrics;
    private ResourceWatcher<Service>? _services;
    private ResourceWatcher<EndpointSlice>? _slices;
    private readonly TaskCompletionSource _listed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Creates the watch; nothing is read until <see cref="RunAsync"/> or <see cref="ListOnceAsync"/>.</summary>
    /// <param name="api">The API.</param>
    /// <param name="ns">The namespace; null or empty for all namespaces.</param>
    /// <param name="changed">Told the namespace and name of each service whose Service or slices changed, after the change is in <see cref="Cache"/>; from the watch loops (must not block), never under the cache's lock.</param>
    /// <param name="serviceLabelSelector">Only the Services this label selector matches (every slice is still read); null for all.</param>
    /// <param name="wanted">Which services (namespace, name) to keep; null for all.</param>
    /// <param name="options">Watch timing: <see cref="KubernetesSourceOptions.WatchTimeout"/>, resync and reconnect delays; the defaults when null.</param>
    /// <param name="timeProvider">The clock of the loops.</param>
    /// <param name="logger">The logger.</param>
    /// <param name="metrics">The <c>ClientLb.Kubernetes</c> meter's instruments; a standalone meter for each run when null.</param>
    public EndpointSliceWatch(KubernetesApiClient api, string? ns, Action<string, string> changed, string? serviceLabelSelector = null, Func<string, string, bool>? wanted = null,
        KubernetesSourceOptions? options = null, TimeProvider? timeProvider = null, ILogger? logger = null, KubernetesMetrics? metrics = null)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(changed);
        _api = api;
        _namespace = ns ?? "";
        _serviceOptions = new ListOptions(serviceLabelSelector);
        _changed = changed;
        _settings = WatchSettings.From(options ?? new KubernetesSourceOptions());
        _time = timeProvider ?? TimeProvider.System;
        _logger = logger ?? NullLogger.Instance;
        _metrics = metrics;
        Cache = new EndpointSliceCache(_namespace, wanted);
    }

    /// <summary>What the watch has seen.</summary>
    public EndpointSliceCache Cache { get; }

    /// <summary>Completes once <see cref="RunAsync"/> has listed both the Services and the EndpointSlices.</summary>
    public Task Listed => _listed.Task;

    private string Where => _namespace.Length == 0 ? "all namespaces" : "namespace " + _namespace;

    /// <summary>Lists the Services, then the EndpointSlices, once, into <see cref="Cache"/> (no watch).</summary>
    /// <exception cref="KubernetesApiException">A list failed.</exception>
    public async Task ListOnceAsync(CancellationToken cancellationToken = default)
    {
        KubernetesList<Service> services = await _api.ListServicesAsync(_namespace, _serviceOptions, cancellationToken).ConfigureAwait(false);
        KubernetesList<EndpointSlice> slices = await _api.ListEndpointSlicesAsync(_namespace, new ListOptions(), cancellationToken).ConfigureAwait(false);
        Apply(static (cache, items, version, touched) => cache.ListServices(items, version, touched), services.Items, services.Metadata?.ResourceVersion);
        Apply(static (cache, items, version, touched) => cache.ListSlices(items, version, touched), slices.Items, slices.Metadata?.ResourceVersion);
    }

    /// <summary>
    /// Lists and watches until <paramref name="cancellationToken"/> is cancelled. API failures are retried by the loops
    /// with backoff; a loop that ends with an error its backoff does not handle is restarted, so updates never stop silently.
    /// </summary>
    public async Task RunAsync(CancellationToken cancellationToken)
    {
        using KubernetesMetrics? owned = _metrics is null ? new KubernetesMetrics() : null;
        KubernetesMetrics metrics = _metrics ?? owned!;
        var services = new ResourceWatcher<Service>($"services in {Where}",
            token => _api.ListServicesAsync(_namespace, _serviceOptions, token),
            (version, timeout, token) => _api.WatchServicesAsync(_namespace, _serviceOptions, version, timeout, token),
            static s => s.Metadata.ResourceVersion, new ServiceSink(this), _settings, _time, _logger, metrics);
        var slices = new ResourceWatcher<EndpointSlice>($"endpointslices in {Where}",
            token => _api.ListEndpointSlicesAsync(_namespace, new ListOptions(), token),
            (version, timeout, token) => _api.WatchEndpointSlicesAsync(_namespace, new ListOptions(), version, timeout, token),
            static s => s.Metadata.ResourceVersion, new SliceSink(this), _settings, _time, _logger, metrics);
        _services = services;
        _slices = slices;
        await Task.WhenAll(KeepRunningAsync(services.RunAsync, "services", cancellationToken), KeepRunningAsync(slices.RunAsync, "endpointslices", cancellationToken)).ConfigureAwait(false);
    }

    private async Task KeepRunningAsync(Func<CancellationToken, Task> loop, string what, CancellationToken stoppingToken)
    {
        TimeSpan delay = _settings.ReconnectDelay;
        while (!stoppingToken.IsCancellationRequested)
        {
            try
            {
                await loop(stoppingToken).ConfigureAwait(false);
                return;
            }
            catch (Exception ex) when (!stoppingToken.IsCancellationRequested)
            {
                _logger.LogError(ex, "The {What} watch loop in {Where} failed; restarting it in {Delay}", what, Where, delay);
            }
            try
            {
                await Task.Delay(delay, _time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delay = delay * 2 > MaxRestartDelay ? MaxRestartDelay : delay * 2;
        }
    }

    /// <summary>Applies one change to the cache under its lock, then tells the owner, outside it, what it touched.</summary>
    private void Apply<T>(Action<EndpointSliceCache, T, string?, ISet<ServiceKey>> change, T item, string? version)
    {
        var touched = new HashSet<ServiceKey>();
        bool listed;
        lock (Cache.Gate)
        {
            change(Cache, item, version, touched);
            listed = Cache.SlicesListed && Cache.ServicesListed;
        }
        foreach (ServiceKey key in touched)
        {
            _changed(key.Namespace, key.Name);
        }
        if (listed)
        {
            _listed.TrySetResult();
        }
    }

    private sealed class SliceSink(EndpointSliceWatch watch) : IWatchSink<EndpointSlice>
    {
        public void OnListed(IReadOnlyList<EndpointSlice> items) =>
            watch.Apply(static (cache, items, version, touched) => cache.ListSlices(items, version, touched), items, watch._slices?.ResourceVersion);

        public void OnUpsert(EndpointSlice item) => watch.Apply(static (cache, item, _, touched) => cache.UpsertSlice(item, touched), item, null);

        public void OnDeleted(EndpointSlice item) => watch.Apply(static (cache, item, _, touched) => cache.DeleteSlice(item, touched), item, null);

        public void OnRecovered()
        {
        }

        public void OnFailure(Exception error, int attempt, TimeSpan retryIn)
        {
        }
    }

    private sealed class ServiceSink(EndpointSliceWatch watch) : IWatchSink<Service>
    {
        public void OnListed(IReadOnlyList<Service> items) =>
            watch.Apply(static (cache, items, version, touched) => cache.ListServices(items, version, touched), items, watch._services?.ResourceVersion);

        public void OnUpsert(Service item) => watch.Apply(static (cache, item, _, touched) => cache.UpsertService(item, touched), item, null);

        public void OnDeleted(Service item) => watch.Apply(static (cache, item, _, touched) => cache.DeleteService(item, touched), item, null);

        public void OnRecovered()
        {
        }

        public void OnFailure(Exception error, int attempt, TimeSpan retryIn)
        {
        }
    }
}
