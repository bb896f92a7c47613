namespace ClientLb.Kubernetes.Watching;

/// <summary>Receives what a <see cref="ResourceWatcher{T}"/> learns, in order, from its single loop.</summary>
internal interface IWatchSink<in T>
{
    /// <summary>A full list replaced everything known (first list, re-list after 410, periodic resync).</summary>
    void OnListed(IReadOnlyList<T> items);

    /// <summary>An object was added or modified.</summary>
    void OnUpsert(T item);

    /// <summary>An object was deleted.</summary>
    void OnDeleted(T item);

    /// <summary>The API server accepted a watch again after failures.</summary>
    void OnRecovered();

    /// <summary>A list or watch failed; the next attempt is in <paramref name="retryIn"/>.</summary>
    void OnFailure(Exception error, int attempt, TimeSpan retryIn);
}
