namespace ClientLb.Sandbox.Api;

/// <summary>
/// Counts API watches per (user, resource): open now and ever opened. The user is the service account's name
/// (<c>system:serviceaccount:NS:NAME</c>) or <c>admin</c> for the sandbox's own token; the resource is the plural with
/// its group (<c>endpointslices.discovery.k8s.io</c>). Tests read it to see who watches what (e.g. one watch per node).
/// </summary>
public sealed class WatchCounter
{
    private readonly Lock _gate = new();
    private readonly Dictionary<(string User, string Resource), (int Open, int Opened)> _counts = [];

    /// <summary>Watches open now, by (user, resource).</summary>
    public IReadOnlyDictionary<(string User, string Resource), int> Open => Read(static c => c.Open);

    /// <summary>Watches opened since the sandbox started (including closed ones), by (user, resource).</summary>
    public IReadOnlyDictionary<(string User, string Resource), int> Opened => Read(static c => c.Opened);

    internal IDisposable Track(string user, string resource)
    {
        lock (_gate)
        {
            (int Open, int Opened) c = _counts.GetValueOrDefault((user, resource));
            _counts[(user, resource)] = (c.Open + 1, c.Opened + 1);
        }
        return new Closer(this, user, resource);
    }

    private Dictionary<(string User, string Resource), int> Read(Func<(int Open, int Opened), int> pick)
    {
        lock (_gate)
        {
            return _counts.Where(p => pick(p.Value) > 0).ToDictionary(static p => p.Key, p => pick(p.Value));
        }
    }

    private sealed class Closer(WatchCounter owner, string user, string resource) : IDisposable
    {
        private int _closed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _closed, 1) != 0)
            {
                return;
            }

            lock (owner._gate)
            {
                (int Open, int Opened) c = owner._counts[(user, resource)];
                owner._counts[(user, resource)] = (c.Open - 1, c.Opened);
            }
        }
    }
}
