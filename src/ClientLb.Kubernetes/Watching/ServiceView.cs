using System.Collections.Immutable;
using ClientLb.Kubernetes.Slices;

namespace ClientLb.Kubernetes.Watching;

/// <summary>
/// The shared state of one (namespace, service): fed by exactly one feeder at a time (a per-service or namespace-wide
/// watch scope, or the node relay's stream), read by every source of the service whatever its port. Subscribers are called in order,
/// one change at a time, under the view's lock, so no source can publish an older state after a newer one.
/// A hand-over to another scope waits until that scope's state is not older than the view's (see
/// <see cref="ServiceSlices.CanReplace"/>); until then the current feeder goes on feeding.
/// </summary>
internal sealed class ServiceView
{
    private readonly Lock _gate = new();
    private readonly TimeProvider _time;
    private readonly Action<ServiceView>? _handedOver;
    private ImmutableArray<Action<ServiceView>> _subscribers = [];
    private ServiceSlices _data;
    private Exception? _error;
    private DateTimeOffset? _failingSince;
    private DateTimeOffset? _lastSuccess;
    private ServiceSlices? _pendingData;
    // The feeder: a watch scope or a node relay feed; changes only under the lock.
    private object? _feeder;
    private object? _pending;

    /// <param name="ns">The namespace.</param>
    /// <param name="name">The service name.</param>
    /// <param name="time">The clock.</param>
    /// <param name="handedOver">Called, under the view's lock, after a hand-over made another scope the feeder.</param>
    public ServiceView(string ns, string name, TimeProvider time, Action<ServiceView>? handedOver = null)
    {
        Namespace = ns;
        Name = name;
        _time = time;
        _handedOver = handedOver;
        _data = ServiceSlices.Empty(ns, name);
    }

    public string Namespace { get; }

    public string Name { get; }

    public string Key => Name + "." + Namespace;

    /// <summary>The watch scope allowed to feed this view (null when none, or when the node relay feeds it).</summary>
    public WatchScope? Feeder => _feeder as WatchScope;

    /// <summary>The scope a hand-over waits for, if any.</summary>
    public WatchScope? Pending => _pending as WatchScope;

    /// <summary>How many sources use this view.</summary>
    public int References { get; set; }

    public ServiceSlices Data => Volatile.Read(ref _data);

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

    /// <summary>Makes <paramref name="scope"/> the feeder at once and applies its current state (a view with no data yet).</summary>
    public void SwitchFeeder(object scope, ServiceSlices data, bool healthy)
    {
        lock (_gate)
        {
            _feeder = scope;
            _pending = null;
            _pendingData = null;
            SetLocked(data, healthy ? null : _error);
        }
    }

    /// <summary>
    /// Hands the view over to <paramref name="scope"/> as soon as its state (<paramref name="data"/> now, or what it
    /// applies later) can replace the view's; the current feeder goes on feeding until then. Replaces any earlier
    /// pending hand-over; cancels it when <paramref name="scope"/> already feeds the view.
    /// </summary>
    public void HandOverTo(object scope, ServiceSlices data)
    {
        lock (_gate)
        {
            if (_feeder == scope)
            {
                _pending = null;
                _pendingData = null;
                return;
            }
            _pending = scope;
            _pendingData = data;
            TryHandOverLocked();
        }
    }

    /// <summary>Applies new data from <paramref name="scope"/> when it is the feeder; records it when a hand-over waits for it.</summary>
    public void Apply(object scope, ServiceSlices data)
    {
        lock (_gate)
        {
            if (_feeder == scope)
            {
                SetLocked(data, null);
            }
            else if (_pending == scope)
            {
                _pendingData = data;
            }
            else
            {
                return;
            }
            // Either side may be the one that catches up: the pending scope's news, or the feeder reaching its state.
            TryHandOverLocked();
        }
    }

    private void TryHandOverLocked()
    {
        if (_pending is not object next || _pendingData is not ServiceSlices data || !data.CanReplace(_data))
        {
            return;
        }
        _feeder = next;
        _pending = null;
        _pendingData = null;
        SetLocked(data, null);
        _handedOver?.Invoke(this);
    }

    /// <summary>Records a failure of the feeder; the data stays (last known good).</summary>
    public void Fail(object scope, Exception error)
    {
        lock (_gate)
        {
            if (_feeder != scope)
            {
                return;
            }
            _failingSince ??= _time.GetUtcNow();
            _error = error;
            NotifyLocked();
        }
    }

    /// <summary>The feeder reached the API server again (a watch was accepted); the data is current again.</summary>
    public void Recovered(object scope)
    {
        lock (_gate)
        {
            if (_feeder != scope || _error is null)
            {
                return;
            }
            SetLocked(_data, null);
        }
    }

    private void SetLocked(ServiceSlices data, Exception? error)
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
