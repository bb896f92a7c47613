using System.Threading.Channels;
using ClientLb.Sandbox.Store;
using Microsoft.Extensions.Logging;

namespace ClientLb.Sandbox.Controllers;

/// <summary>
/// A level-triggered controller: store watches turn events into keys, a single worker reconciles each key
/// against the current state. Duplicate keys collapse while queued, so bursts cost one reconcile.
/// </summary>
internal abstract class Controller : IAsyncDisposable
{
    private readonly Channel<string> _queue = Channel.CreateUnbounded<string>(new() { SingleReader = true });
    private readonly HashSet<string> _pending = [];
    private readonly Lock _lock = new();
    private readonly CancellationTokenSource _cts = new();
    private readonly List<Task> _loops = [];
    private readonly List<Watcher> _watchers = [];

    protected Controller(ObjectStore store, ILogger logger)
    {
        Store = store;
        Logger = logger;
    }

    protected ObjectStore Store { get; }
    protected ILogger Logger { get; }
    protected CancellationToken Stopping => _cts.Token;

    /// <summary>Watches the given resources (starting with their current objects) and starts the worker.</summary>
    public void Start(params ResourceType[] watched)
    {
        foreach (ResourceType t in watched)
        {
            Watcher w = Store.Watch(t, null, _ => true, null, isInternal: true);
            _watchers.Add(w);
            _loops.Add(Task.Run(() => PumpAsync(w)));
        }
        _loops.Add(Task.Run(WorkAsync));
    }

    private async Task PumpAsync(Watcher w)
    {
        try
        {
            await foreach (WatchEvent e in w.Events.ReadAllAsync(_cts.Token))
            {
                try { OnEvent(e); }
                catch (Exception ex) { Logger.LogError(ex, "{Controller} failed to handle a {Type} event", GetType().Name, e.Type); }
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>Maps a change to the keys to reconcile.</summary>
    protected abstract void OnEvent(WatchEvent e);

    /// <summary>Brings the world in line with the desired state of one key.</summary>
    protected abstract Task ReconcileAsync(string key, CancellationToken ct);

    public void Enqueue(string key)
    {
        lock (_lock)
        {
            if (!_pending.Add(key))
            {
                return;
            }
        }

        _queue.Writer.TryWrite(key);
    }

    private async Task WorkAsync()
    {
        try
        {
            await foreach (string key in _queue.Reader.ReadAllAsync(_cts.Token))
            {
                lock (_lock)
                {
                    _pending.Remove(key);
                }

                try { await ReconcileAsync(key, _cts.Token); }
                catch (OperationCanceledException) when (_cts.IsCancellationRequested) { return; }
                catch (ApiException ex) when (ex.Code is 404 or 409)
                {
                    Enqueue(key); // raced with another writer: look again at the new state
                }
                catch (Exception ex)
                {
                    Logger.LogError(ex, "{Controller} failed to reconcile {Key}", GetType().Name, key);
                    LastError = ex;
                }
            }
        }
        catch (OperationCanceledException) { }
    }

    /// <summary>The last unexpected reconcile failure, for diagnostics.</summary>
    public Exception? LastError { get; private set; }

    public virtual async ValueTask DisposeAsync()
    {
        _cts.Cancel();
        foreach (Watcher w in _watchers)
        {
            w.Dispose();
        }

        _queue.Writer.TryComplete();
        try { await Task.WhenAll(_loops); } catch (OperationCanceledException) { }
        _cts.Dispose();
    }

    protected static string KeyOf(StoredObject o) => o.Namespace + "/" + o.Name;

    protected static (string Ns, string Name) SplitKey(string key)
    {
        int i = key.IndexOf('/');
        return (key[..i], key[(i + 1)..]);
    }

    /// <summary>True when <paramref name="o"/> lists <paramref name="ownerUid"/> among its ownerReferences.</summary>
    protected static bool IsOwnedBy(StoredObject o, string ownerUid) =>
        o.Root.Items("metadata", "ownerReferences").Any(r => r.Str("uid") == ownerUid);

    /// <summary>Enqueues the controlling owner of kind <paramref name="kind"/> of a changed object, or of its state before the change.</summary>
    protected void EnqueueControllerOwner(WatchEvent e, string kind)
    {
        StoredObject o = e.Object!;
        if (ControllerOwner(o, kind) is { } owner)
        {
            Enqueue(o.Namespace + "/" + owner);
        }
        else if (e.Previous is { } prev && ControllerOwner(prev, kind) is { } prevOwner)
        {
            Enqueue(prev.Namespace + "/" + prevOwner);
        }
    }

    protected static string? ControllerOwner(StoredObject o, string kind) =>
        o.Root.Items("metadata", "ownerReferences").FirstOrDefault(r => r.Str("kind") == kind && r.Get("controller") is { ValueKind: System.Text.Json.JsonValueKind.True }) is { ValueKind: System.Text.Json.JsonValueKind.Object } r
            ? r.Str("name") : null;
}
