using System.Threading.Channels;

namespace ClientLb.Sandbox.Store;

/// <summary>
/// One open watch. The store writes into it under its lock, so the channel order is commit order and
/// an empty channel means the watcher has seen everything up to the store's current resourceVersion.
/// </summary>
internal sealed class Watcher : IDisposable
{
    private readonly ObjectStore _store;
    private readonly Channel<WatchEvent> _channel = Channel.CreateUnbounded<WatchEvent>(new() { SingleReader = false }); // multi-reader channels can Count, which bookmarks need

    internal Watcher(ObjectStore store, ResourceType type, string? ns, Func<StoredObject, bool> filter, bool isInternal)
    {
        _store = store;
        Type = type;
        Namespace = ns;
        Filter = filter;
        IsInternal = isInternal;
    }

    public ResourceType Type { get; }
    public string? Namespace { get; }
    public Func<StoredObject, bool> Filter { get; }
    /// <summary>Controllers' watches survive the "drop all watches" fault.</summary>
    public bool IsInternal { get; }
    public ChannelReader<WatchEvent> Events => _channel.Reader;

    private bool Matches(StoredObject? o) => o is not null && (Namespace is null || o.Namespace == Namespace) && Filter(o);

    /// <summary>Delivers a committed change, turning it into ADDED/DELETED when it enters or leaves the filter.</summary>
    internal void Offer(WatchEvent e)
    {
        switch (e.Type)
        {
            case WatchEventType.Modified:
                bool now = Matches(e.Object);
                bool before = Matches(e.Previous);
                if (now && before)
                {
                    Write(e);
                }
                else if (now)
                {
                    Write(e with { Type = WatchEventType.Added });
                }
                else if (before)
                {
                    Write(e with { Type = WatchEventType.Deleted });
                }

                break;
            case WatchEventType.Bookmark:
                Write(e);
                break;
            default:
                if (Matches(e.Object))
                {
                    Write(e);
                }

                break;
        }
    }

    internal void Write(WatchEvent e) => _channel.Writer.TryWrite(e);

    internal void Close(Exception? error = null) => _channel.Writer.TryComplete(error);

    /// <summary>The resourceVersion a bookmark may carry now, or null when events are still queued.</summary>
    public long? TryGetBookmarkVersion() => _store.BookmarkVersionFor(this);

    public void Dispose() => _store.RemoveWatcher(this);
}
