using System.Text;
using System.Text.Json.Nodes;

namespace ClientLb.Sandbox.Store;

/// <summary>
/// The cluster's state: every object of every resource, one cluster-wide increasing resourceVersion,
/// a bounded history of changes for watches, and the open watchers. All writes are serialised by one lock.
/// </summary>
internal sealed partial class ObjectStore
{
    private readonly Lock _lock = new();
    private readonly Dictionary<ResourceType, SortedDictionary<string, StoredObject>> _data = [];
    private readonly Dictionary<ResourceType, IResourceStrategy> _strategies = [];
    private readonly Queue<WatchEvent> _history = new();
    private readonly List<Watcher> _watchers = [];
    private readonly TimeProvider _time;
    private long _rv;
    private long _compactedRv;
    private int _historySize;
    private TaskCompletionSource _changed = NewSignal();

    public ObjectStore(TimeProvider time, int historySize)
    {
        _time = time;
        HistorySize = historySize;
        foreach (ResourceType t in ResourceTypes.All)
        {
            _data[t] = new SortedDictionary<string, StoredObject>(StringComparer.Ordinal);
            _strategies[t] = new DefaultStrategy();
        }
    }

    private static TaskCompletionSource NewSignal() => new(TaskCreationOptions.RunContinuationsAsynchronously);

    public TimeProvider Time => _time;

    /// <summary>How many change events are retained for watches that resume from a resourceVersion.</summary>
    public int HistorySize
    {
        get => _historySize;
        set
        {
            ArgumentOutOfRangeException.ThrowIfLessThan(value, 1, nameof(HistorySize));
            lock (_lock) { _historySize = value; Trim(); }
        }
    }

    public long ResourceVersion { get { lock (_lock) { return _rv; } } }

    /// <summary>Watches from a resourceVersion older than this get 410 Expired.</summary>
    public long CompactedResourceVersion { get { lock (_lock) { return _compactedRv; } } }

    public void SetStrategy(ResourceType t, IResourceStrategy s) => _strategies[t] = s;

    /// <summary>Completes on the next commit after it was obtained; used to await conditions without polling.</summary>
    public Task NextChange { get { lock (_lock) { return _changed.Task; } } }

    // ---- reads ----

    public StoredObject? Get(ResourceType t, string? ns, string name)
    {
        lock (_lock)
        {
            return _data[t].GetValueOrDefault(Key(t, ns, name));
        }
    }

    public StoredObject GetRequired(ResourceType t, string? ns, string name) =>
        Get(t, ns, name) ?? throw ApiException.NotFound(t, name);

    /// <summary>All objects of a resource, optionally in one namespace, in key order.</summary>
    public List<StoredObject> Snapshot(ResourceType t, string? ns = null, Func<StoredObject, bool>? filter = null)
    {
        lock (_lock)
        {
            var result = new List<StoredObject>();
            foreach (StoredObject o in Range(t, ns))
            {
                if (filter is null || filter(o))
                {
                    result.Add(o);
                }
            }

            return result;
        }
    }

    private IEnumerable<StoredObject> Range(ResourceType t, string? ns)
    {
        SortedDictionary<string, StoredObject>.ValueCollection all = _data[t].Values;
        if (ns is null || !t.Namespaced)
        {
            return all;
        }

        string prefix = ns + "/";
        return all.SkipWhile(o => string.CompareOrdinal(o.Key, prefix) < 0).TakeWhile(o => o.Key.StartsWith(prefix, StringComparison.Ordinal));
    }

    public ListResult List(ResourceType t, string? ns, LabelSelector labels, FieldSelector fields, int? limit, string? continueToken)
    {
        lock (_lock)
        {
            string? after = null;
            if (!string.IsNullOrEmpty(continueToken))
            {
                (long tokenRv, after) = DecodeContinue(continueToken);
                if (tokenRv < _compactedRv)
                {
                    throw ApiException.Expired("The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter.");
                }
            }
            var items = new List<StoredObject>();
            string? next = null;
            long? remaining = null;
            IEnumerable<StoredObject> source = fields.PinnedName is { } pinned && (ns is not null || !t.Namespaced)
                ? (Get(t, ns, pinned) is { } one ? [one] : [])
                : Range(t, ns);
            IEnumerable<StoredObject> matching = source.Where(o => (after is null || string.CompareOrdinal(o.Key, after) > 0) && labels.Matches(o.Labels) && fields.Matches(o));
            foreach (StoredObject? o in matching)
            {
                if (limit is > 0 && items.Count == limit)
                {
                    next = EncodeContinue(_rv, items[^1].Key);
                    remaining = 1 + matching.SkipWhile(m => string.CompareOrdinal(m.Key, items[^1].Key) <= 0).Skip(1).LongCount();
                    break;
                }
                items.Add(o);
            }
            return new ListResult(items, _rv, next, remaining);
        }
    }

    private static string EncodeContinue(long rv, string key) =>
        Convert.ToBase64String(Encoding.UTF8.GetBytes(new JsonObject { ["v"] = "sandbox.continue/v1", ["rv"] = rv, ["start"] = key }.ToJsonString()));

    private static (long Rv, string After) DecodeContinue(string token)
    {
        try
        {
            JsonObject o = JsonNode.Parse(Convert.FromBase64String(token))!.AsObject();
            return (o["rv"]!.GetValue<long>(), o["start"]!.GetValue<string>());
        }
        catch (Exception ex) when (ex is FormatException or System.Text.Json.JsonException or InvalidOperationException or NullReferenceException)
        {
            throw ApiException.BadRequest($"continue key is not valid: {ex.Message}");
        }
    }

    private static string Key(ResourceType t, string? ns, string name) => (t.Namespaced ? ns ?? "" : "") + "/" + name;

    // ---- watches ----

    /// <summary>
    /// Opens a watch. With <paramref name="fromVersion"/> null or 0 the watcher first gets synthetic ADDED events
    /// for the current objects; otherwise it gets exactly the changes after that version, or 410 Expired.
    /// </summary>
    public Watcher Watch(ResourceType t, string? ns, Func<StoredObject, bool> filter, long? fromVersion, bool initialEventsEndBookmark = false, bool isInternal = false)
    {
        lock (_lock)
        {
            var w = new Watcher(this, t, ns, filter, isInternal);
            if (fromVersion is null or 0)
            {
                foreach (StoredObject o in Range(t, ns))
                {
                    if (filter(o))
                    {
                        w.Write(new WatchEvent(WatchEventType.Added, o, null, o.ResourceVersion));
                    }
                }

                if (initialEventsEndBookmark)
                {
                    w.Write(new WatchEvent(WatchEventType.Bookmark, null, null, _rv) { InitialEventsEnd = true });
                }
            }
            else
            {
                if (fromVersion < _compactedRv)
                {
                    throw ApiException.Expired($"too old resource version: {fromVersion} ({_compactedRv})");
                }

                foreach (WatchEvent e in _history)
                {
                    if (e.ResourceVersion > fromVersion && e.Object?.Type == t)
                    {
                        w.Offer(e);
                    }
                }
            }
            _watchers.Add(w);
            return w;
        }
    }

    internal void RemoveWatcher(Watcher w)
    {
        lock (_lock)
        {
            _watchers.Remove(w);
        }

        w.Close();
    }

    internal long? BookmarkVersionFor(Watcher w)
    {
        lock (_lock)
        {
            return w.Events.Count == 0 ? _rv : null;
        }
    }

    /// <summary>Fault injection: ends every client watch (controllers keep theirs), as an API server restart would.</summary>
    public int CloseClientWatches()
    {
        lock (_lock)
        {
            var dropped = _watchers.Where(w => !w.IsInternal).ToList();
            foreach (Watcher? w in dropped) { _watchers.Remove(w); w.Close(); }
            return dropped.Count;
        }
    }

    /// <summary>Fault injection: forgets all retained history, so any watch from an older resourceVersion gets 410.</summary>
    public void Compact()
    {
        lock (_lock)
        {
            _history.Clear();
            _compactedRv = _rv;
        }
    }

    private void Commit(WatchEvent e)
    {
        _history.Enqueue(e);
        Trim();
        foreach (Watcher w in _watchers)
        {
            if (w.Type == e.Object!.Type)
            {
                w.Offer(e);
            }
        }

        TaskCompletionSource signal = _changed;
        _changed = NewSignal();
        signal.TrySetResult();
    }

    private void Trim()
    {
        while (_history.Count > _historySize)
        {
            _compactedRv = _history.Dequeue().ResourceVersion;
        }
    }
}
