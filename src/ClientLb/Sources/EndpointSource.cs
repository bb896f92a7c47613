using System.Collections.Immutable;
using ClientLb.Endpoints;
using ClientLb.ServiceDiscovery;

namespace ClientLb.Sources;

/// <summary>
/// Base for sources: versioned snapshots, last-known-good on failure, change notification, and an
/// optional background loop (<see cref="ExecuteAsync"/>) stopped on dispose.
/// </summary>
public abstract class EndpointSource : IEndpointSource
{
    private readonly Lock _gate = new();
    private readonly TaskCompletionSource _firstResult = new(TaskCreationOptions.RunContinuationsAsynchronously);
    private readonly CancellationTokenSource _stopping = new();
    private ImmutableArray<Action<IEndpointSource>> _subscribers = [];
    private EndpointSnapshot? _current;
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
    }

    /// <inheritdoc />
    public ServiceName Service { get; }

    /// <inheritdoc />
    public string Kind { get; }

    /// <inheritdoc />
    public string Description { get; }

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
            _loop = Task.Run(() => ExecuteAsync(_stopping.Token));
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
        await _firstResult.Task.WaitAsync(cancellationToken).ConfigureAwait(false);
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
    /// When the set equals the current one only the status is refreshed; otherwise a new snapshot with the next version is swapped in.
    /// </summary>
    protected void Publish(IEnumerable<Endpoint> endpoints)
    {
        ArgumentNullException.ThrowIfNull(endpoints);
        var builder = ImmutableArray.CreateBuilder<Endpoint>();
        var seen = new HashSet<(string Host, int Port)>();
        foreach (Endpoint endpoint in endpoints)
        {
            if (seen.Add((endpoint.Host, endpoint.Port)))
            {
                builder.Add(endpoint);
            }
        }
        ImmutableArray<Endpoint> list = builder.ToImmutable();
        DateTimeOffset now = TimeProvider.GetUtcNow();
        bool changed;
        lock (_gate)
        {
            EndpointSnapshot? current = _current;
            changed = current is null || !SameSet(current.Endpoints, list);
            if (changed)
            {
                Volatile.Write(ref _current, new EndpointSnapshot(Service, Kind, (current?.Version ?? 0) + 1, now, list));
            }
            bool statusChanged = !_status.IsHealthy;
            Volatile.Write(ref _status, new SourceStatus(now, null, null, 0));
            changed |= statusChanged;
        }
        // Subscribers (the balancer rebuilding its picker) run before waiters of the first result are released,
        // so a first request never finds the source answered but the picker not yet built.
        if (changed)
        {
            Notify();
        }
        _firstResult.TrySetResult();
    }

    // Order-insensitive: a DNS server rotating its records, or an API listing slices in another order, is no change.
    private static bool SameSet(ImmutableArray<Endpoint> current, ImmutableArray<Endpoint> next)
    {
        if (current.Length != next.Length)
        {
            return false;
        }
        if (current.SequenceEqual(next))
        {
            return true;
        }
        var set = new HashSet<Endpoint>(current);
        foreach (Endpoint endpoint in next)
        {
            if (!set.Contains(endpoint))
            {
                return false;
            }
        }
        return true;
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
        _firstResult.TrySetResult();
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
        _firstResult.TrySetResult();
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
