using System.Collections.Immutable;
using ClientLb.Endpoints;
using ClientLb.Names;

namespace ClientLb.Sources;

/// <summary>
/// Base for sources: versioned snapshots, last-known-good on failure, change notification, and an
/// optional background loop (<see cref="ExecuteAsync"/>) stopped on dispose.
/// </summary>
public abstract class EndpointSource : IEndpointSource
{
    private readonly Lock _gate = new();
    // Completed by the first answer (or failure, or dispose), then null: an answered source keeps no task.
    private TaskCompletionSource? _firstResult = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private ImmutableArray<Action<IEndpointSource>> _subscribers = [];
    private EndpointSnapshot? _current;
    // Makes each next snapshot; used under _gate.
    private readonly SnapshotBuilder _snapshots;
    private SourceStatus _status = SourceStatus.NotStarted;
    private Task? _loop;
    private int _started;

    /// <summary>Creates the source.</summary>
    protected EndpointSource(ServiceName service, string kind, string description, TimeProvider? timeProvider = null)
    {
        Service = service ?? throw new ArgumentNullException(nameof(service));
        Kind = kind;
        Description = description;
        TimeProvider = timeProvider ?? TimeProvider.System;
        _snapshots = new SnapshotBuilder(service, kind);
    }

    /// <inheritdoc />
    public ServiceName Service { get; }

    /// <inheritdoc />
    public string Kind { get; }

    /// <inheritdoc />
    public virtual string Description { get; }

    /// <summary>The clock used for snapshot times and staleness.</summary>
    protected TimeProvider TimeProvider { get; }

    /// <inheritdoc />
    public EndpointSnapshot? Current => Volatile.Read(ref _current);

    /// <inheritdoc />
    public SourceStatus Status => Volatile.Read(ref _status);

    /// <summary>Cancelled when the source is disposed.</summary>
    protected CancellationToken Stopping => _stopping.Token;

    /// <inheritdoc />
    public void Start()
    {
        if (Interlocked.Exchange(ref _started, 1) == 0)
        {
            OnStart();
            Task loop = Task.Run(() => ExecuteAsync(_stopping.Token));
            _loop = loop;
            // A loop that has ended (the default does nothing: a watch feeds the source) is not kept; thousands of
            // watched services would each hold its task. A failed or cancelled one stays for DisposeAsync to observe.
            _ = loop.ContinueWith(static (ended, source) => Interlocked.CompareExchange(ref ((EndpointSource)source!)._loop, null, ended), this,
                CancellationToken.None, TaskContinuationOptions.OnlyOnRanToCompletion | TaskContinuationOptions.ExecuteSynchronously, TaskScheduler.Default);
        }
    }

    /// <summary>Runs synchronously in <see cref="Start"/> before the loop; a place to publish a first snapshot at once.</summary>
    protected virtual void OnStart()
    {
    }

    /// <summary>The refresh or watch loop; return when <paramref name="stoppingToken"/> is cancelled. The default does nothing.</summary>
    protected virtual Task ExecuteAsync(CancellationToken stoppingToken) => Task.CompletedTask;

    /// <inheritdoc />
    public ValueTask<EndpointSnapshot> GetSnapshotAsync(CancellationToken cancellationToken = default)
    {
        EndpointSnapshot? current = Current;
        if (current is not null)
        {
            return ValueTask.FromResult(current);
        }
        return WaitAsync(cancellationToken);
    }

    private async ValueTask<EndpointSnapshot> WaitAsync(CancellationToken cancellationToken)
    {
        Start();
        await (Volatile.Read(ref _firstResult)?.Task ?? Task.CompletedTask).WaitAsync(cancellationToken).ConfigureAwait(false);
        EndpointSnapshot? current = Current;
        if (current is not null)
        {
            return current;
        }
        SourceStatus status = Status;
        throw new EndpointSourceException(Service, Description, "no endpoints obtained yet: " + (status.LastError?.Message ?? "the source stopped"), status.LastError);
    }

    /// <summary>
    /// Publishes the endpoints of a successful refresh. Endpoints with the same host and port are merged (the first wins).
    /// When the set equals the current one (in any order) only the status is refreshed; otherwise a new snapshot with the
    /// next version, and what changed, is swapped in.
    /// </summary>
    protected void Publish(IEnumerable<Endpoint> endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        (List<Endpoint> list, PositionTable<Endpoint, SelfAddress> index) = SnapshotBuilder.Distinct(endpoints);
        DateTimeOffset now = TimeProvider.GetUtcNow();
        bool changed;
        lock (_gate)
        {
            changed = Swap(_snapshots.Replace(_current, list, index, now));
            changed |= RefreshStatusLocked(now);
        }
        AfterPublish(changed);
    }

    /// <summary>
    /// Publishes a change to the current endpoints, in O(changed) apart from one copy of the endpoint array: each of
    /// <paramref name="upserted"/> is added or replaces the endpoint with its authority, each of <paramref name="removed"/>
    /// (matched by authority) leaves. Endpoints equal to the current ones are no change; with no change at all only the
    /// status is refreshed. Before the first snapshot <paramref name="upserted"/> is the whole list.
    /// </summary>
    /// <exception cref="ArgumentException">An authority appears twice in <paramref name="upserted"/>, or in both lists.</exception>
    protected void PublishChanges(IReadOnlyCollection<Endpoint> upserted, IReadOnlyCollection<Endpoint> removed)
    {
        ArgumentNullException.ThrowIfNull(upserted);
        ArgumentNullException.ThrowIfNull(removed);
        if (removed.Count > 0 || upserted.Count > 1)
        {
            var names = new HashSet<Endpoint>(Endpoint.AddressComparer);
            foreach (Endpoint endpoint in upserted)
            {
                if (!names.Add(endpoint))
                {
                    throw new ArgumentException($"{this}: the endpoint {endpoint.Authority} is upserted twice in one change.", nameof(upserted));
                }
            }
            foreach (Endpoint endpoint in removed)
            {
                if (names.Contains(endpoint))
                {
                    throw new ArgumentException($"{this}: the endpoint {endpoint.Authority} is both upserted and removed in one change.", nameof(removed));
                }
            }
        }
        DateTimeOffset now = TimeProvider.GetUtcNow();
        bool changed;
        lock (_gate)
        {
            changed = Swap(_snapshots.Apply(_current, upserted, removed, now));
            changed |= RefreshStatusLocked(now);
        }
        AfterPublish(changed);
    }

    // Under _gate: swaps in the next snapshot, if the endpoints changed.
    private bool Swap(EndpointSnapshot? next)
    {
        if (next is null)
        {
            return false;
        }
        Volatile.Write(ref _current, next);
        return true;
    }


    // Under _gate: a publish means the source reached its origin; returns whether the status changed.
    private bool RefreshStatusLocked(DateTimeOffset now)
    {
        bool statusChanged = !_status.IsHealthy;
        Volatile.Write(ref _status, new SourceStatus(now, null, null, 0));
        return statusChanged;
    }

    private void AfterPublish(bool changed)
    {
        // Subscribers (the balancer rebuilding its picker) run before waiters of the first result are released,
        // so a first request never finds the source answered but the picker not yet built.
        if (changed)
        {
            Notify();
        }
        CompleteFirstResult();
    }

    private void CompleteFirstResult()
    {
        if (Volatile.Read(ref _firstResult) is not null)
        {
            Interlocked.Exchange(ref _firstResult, null)?.TrySetResult();
        }
    }

    /// <summary>Records a failed refresh. The current snapshot (if any) stays in service.</summary>
    protected void ReportFailure(Exception error)
    {
        ArgumentNullException.ThrowIfNull(error);
        DateTimeOffset now = TimeProvider.GetUtcNow();
        lock (_gate)
        {
            SourceStatus old = _status;
            Volatile.Write(ref _status, new SourceStatus(old.LastSuccessAt, old.FailingSince ?? now, error, old.ConsecutiveFailures + 1));
        }
        Notify();
        CompleteFirstResult();
    }

    /// <summary>
    /// Tells subscribers that something other than the endpoint list changed (e.g. a Service's session affinity),
    /// so they re-read what they derive from this source.
    /// </summary>
    protected void NotifyChanged() => Notify();

    /// <inheritdoc />
    public IDisposable Subscribe(Action<IEndpointSource> onChanged)
    {
        ArgumentNullException.ThrowIfNull(onChanged);
        ImmutableInterlocked.Update(ref _subscribers, static (list, item) => list.Add(item), onChanged);
        return new Subscription(this, onChanged);
    }

    private void Notify()
    {
        // ImmutableArray is a struct over one array reference: a plain read is atomic.
        foreach (Action<IEndpointSource> subscriber in _subscribers)
        {
            subscriber(this);
        }
    }

    /// <summary>Stops the loop and releases resources.</summary>
    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }
        _stopping.Cancel();
        if (_loop is not null)
        {
            try
            {
                await _loop.ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
            }
        }
        await DisposeCoreAsync().ConfigureAwait(false);
        CompleteFirstResult();
        _stopping.Dispose();
        GC.SuppressFinalize(this);
    }

    /// <summary>Releases what a derived source holds; called once after the loop ended.</summary>
    protected virtual ValueTask DisposeCoreAsync() => ValueTask.CompletedTask;

    /// <inheritdoc />
    public override string ToString() => $"{Service} ({Description})";

    private sealed class Subscription(EndpointSource owner, Action<IEndpointSource> callback) : IDisposable
    {
        public void Dispose() =>
            ImmutableInterlocked.Update(ref owner._subscribers, static (list, item) => list.Remove(item), callback);
    }
}
