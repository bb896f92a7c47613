namespace ClientLb.Sandbox.Store;

/// <summary>Watch event types, spelled as the Kubernetes API does.</summary>
internal static class WatchEventType
{
    public const string Added = "ADDED";
    public const string Modified = "MODIFIED";
    public const string Deleted = "DELETED";
    public const string Bookmark = "BOOKMARK";
    public const string Error = "ERROR";
}

/// <summary>A committed change (or a synthetic/bookmark event) as delivered to a watcher.</summary>
/// <param name="Type">ADDED, MODIFIED, DELETED or BOOKMARK.</param>
/// <param name="Object">The object after the change (for DELETED: its last state, carrying the deletion's resourceVersion).</param>
/// <param name="Previous">The object before the change, used to turn MODIFIED into ADDED/DELETED for filtered watches.</param>
/// <param name="ResourceVersion">The cluster-wide resourceVersion of the change.</param>
internal sealed record WatchEvent(string Type, StoredObject? Object, StoredObject? Previous, long ResourceVersion)
{
    /// <summary>True for the bookmark that ends the initial events of a sendInitialEvents watch.</summary>
    public bool InitialEventsEnd { get; init; }
}
