using ClientLb.Endpoints;
using ClientLb.Names;

namespace ClientLb.Sources;

/// <summary>
/// Publishes the endpoints of one service as immutable snapshots and says when they change.
/// A source that fails keeps its last good snapshot and reports the failure and how stale it is.
/// </summary>
public interface IEndpointSource : IAsyncDisposable
{
    /// <summary>The service this source watches.</summary>
    ServiceName Service { get; }

    /// <summary>The kind of source: <c>config</c>, <c>dns</c>, <c>kubernetes</c>.</summary>
    string Kind { get; }

    /// <summary>Where the endpoints come from, for messages (e.g. <c>config ClientLb:Services:payments</c>).</summary>
    string Description { get; }

    /// <summary>The last good snapshot, or null before the first one.</summary>
    EndpointSnapshot? Current { get; }

    /// <summary>Whether the last refresh succeeded, and if not, since when it fails and why.</summary>
    SourceStatus Status { get; }

    /// <summary>Starts refreshing (idempotent). Sources with nothing to run may publish at once.</summary>
    void Start();

    /// <summary>
    /// Returns the current snapshot, waiting for the first result if there is none yet.
    /// Throws <see cref="EndpointSourceException"/> when the first attempt failed and there is no snapshot to fall back to.
    /// </summary>
    ValueTask<EndpointSnapshot> GetSnapshotAsync(CancellationToken cancellationToken = default);

    /// <summary>
    /// Calls <paramref name="onChanged"/> after every new snapshot or status change, on the thread that caused it.
    /// Dispose the result to stop.
    /// </summary>
    IDisposable Subscribe(Action<IEndpointSource> onChanged);
}
