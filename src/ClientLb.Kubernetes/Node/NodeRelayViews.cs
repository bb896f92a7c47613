using ClientLb.Kubernetes.Watching;
using Microsoft.Extensions.Logging;

namespace ClientLb.Kubernetes.Node;

/// <summary>
/// The views the node relay feeds: one stream per (namespace, service) however many sources of the process use it,
/// stopped with its last lease. Each view reports <see cref="NodeRelayUnavailableException"/> while its stream is down,
/// and its last state stays (last known good) until the stream is back.
/// </summary>
internal sealed class NodeRelayViews : IServiceViewProvider, IAsyncDisposable
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(string, string), (ServiceView View, NodeRelayFeed Feed)> _views = [];
    private readonly NodeRelayConnection _connection;
    private readonly NodeRelayOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly List<Task> _stopping = [];

    public NodeRelayViews(NodeRelayConnection connection, NodeRelayOptions options, TimeProvider time, ILogger logger)
    {
        _connection = connection;
        _options = options;
        _time = time;
        _logger = logger;
    }

    public string Description => _connection.Description;

    public ViewLease Acquire(string ns, string service)
    {
        lock (_gate)
        {
            if (_views.TryGetValue((ns, service), out (ServiceView View, NodeRelayFeed Feed) entry))
            {
                entry.View.References++;
                return new ViewLease(this, entry.View);
            }
            var view = new ServiceView(ns, service, _time) { References = 1 };
            var feed = new NodeRelayFeed(_connection, view, _options, _time, _logger);
            _views[(ns, service)] = (view, feed);
            feed.Start();
            return new ViewLease(this, view);
        }
    }

    public void Release(ServiceView view)
    {
        lock (_gate)
        {
            if (--view.References > 0 || !_views.TryGetValue((view.Namespace, view.Name), out (ServiceView View, NodeRelayFeed Feed) entry) || entry.View != view)
            {
                return;
            }
            _views.Remove((view.Namespace, view.Name));
            _stopping.RemoveAll(static t => t.IsCompleted);
            _stopping.Add(entry.Feed.DisposeAsync().AsTask());
        }
    }

    public async ValueTask DisposeAsync()
    {
        Task[] pending;
        lock (_gate)
        {
            pending = [.. _stopping, .. _views.Values.Select(static e => e.Feed.DisposeAsync().AsTask())];
            _views.Clear();
        }
        await Task.WhenAll(pending).ConfigureAwait(false);
        _connection.Dispose();
    }
}
