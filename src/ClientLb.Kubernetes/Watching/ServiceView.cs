using System.Collections.Immutable;

namespace ClientLb.Kubernetes.Watching;

/// <summary>
/// The shared state of one (namespace, service): fed by exactly one watch scope at a time (per-service or
/// namespace-wide), read by every source of the service whatever its port. Subscribers are called in order,
/// one change at a time, under the view's lock, so no source can publish an older state after a newer one.
/// </summary>
internal sealed class ServiceView
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private ImmutableArray<Action<ServiceView>> _subscribers = [];
    private ServiceData _data;
    private Exception? _error;
    private DateTimeOffset? _failingSince;
    private DateTimeOffset? _lastSuccess;

    public ServiceView(string ns, string name, TimeProvider time)
    {
        Namespace = ns;
        Name = name;
        _time = time;
        _data = ServiceData.Empty(ns, name);
    }

    public string Namespace { get; }

    public string Name { get; }

    public string Key => Name + "." + Namespace;

    /// <summary>The scope allowed to feed this view; changes only under the lock.</summary>
    public WatchScope? Feeder { get; private set; }

    /// <summary>How many sources use this view.</summary>
    public int References { get; set; }

    public ServiceData Data => Volatile.Read(ref _data);

    public Exception? Error => Volatile.Read(ref _error);

    public DateTimeOffset? FailingSince
    {
        get
        {
            lock (_gate)
            {
                return _failingSince;
            }
        }
    }

    /// <summary>How long the data has gone without a successful contact with the API server; zero when healthy.</summary>
    public TimeSpan Staleness(DateTimeOffset now)
    {
        lock (_gate)
        {
            return _failingSince is null ? TimeSpan.Zero : now - (_lastSuccess ?? _failingSince.Value);
        }
    }

    public IDisposable Subscribe(Action<ServiceView> callback)
    {
        ImmutableInterlocked.Update(ref _subscribers, static (list, item) => list.Add(item), callback);
        return new Unsubscriber(this, callback);
    }

    /// <summary>Makes <paramref name="scope"/> the feeder and applies its current state for this service.</summary>
    public void SwitchFeeder(WatchScope scope, ServiceData data, bool healthy)
    {
        lock (_gate)
        {
            Feeder = scope;
            SetLocked(data, healthy ? null : _error);
        }
    }

    /// <summary>Applies new data from <paramref name="scope"/>; ignored unless it is the feeder.</summary>
    public void Apply(WatchScope scope, ServiceData data)
    {
        lock (_gate)
        {
            if (Feeder == scope)
            {
                SetLocked(data, null);
            }
        }
    }

    /// <summary>Records a failure of the feeder; the data stays (last known good).</summary>
    public void Fail(WatchScope scope, Exception error)
    {
        lock (_gate)
        {
            if (Feeder != scope)
            {
                return;
            }
            _failingSince ??= _time.GetUtcNow();
            _error = error;
            NotifyLocked();
        }
    }

    /// <summary>The feeder reached the API server again (a watch was accepted); the data is current again.</summary>
    public void Recovered(WatchScope scope)
    {
        lock (_gate)
        {
            if (Feeder != scope || _error is null)
            {
                return;
            }
            SetLocked(_data, null);
        }
    }

    private void SetLocked(ServiceData data, Exception? error)
    {
        _data = data;
        _error = error;
        if (error is null)
        {
            _failingSince = null;
            _lastSuccess = _time.GetUtcNow();
        }
        NotifyLocked();
    }

    private void NotifyLocked()
    {
        foreach (Action<ServiceView> subscriber in _subscribers)
        {
            subscriber(this);
        }
    }

    private sealed class Unsubscriber(ServiceView view, Action<ServiceView> callback) : IDisposable
    {
        public void Dispose() => ImmutableInterlocked.Update(ref view._subscribers, static (list, item) => list.Remove(item), callback);
    }
}
