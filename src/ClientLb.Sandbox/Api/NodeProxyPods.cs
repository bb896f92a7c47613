using ClientLb.Sandbox.Store;
using Microsoft.AspNetCore.Http;

namespace ClientLb.Sandbox.Api;

/// <summary>
/// Shows a node proxy that runs against the sandbox (the ClientLb agent, or kube-proxy itself) as a kube-system pod
/// labelled <c>k8s-app=kube-proxy</c>, as a cluster shows its kube-proxy pods. A node proxy is recognised by what it
/// does: one client (User-Agent, user, address) holding a watch on Services and a watch on EndpointSlices that are not
/// narrowed by service (an SDK selects slices by their kubernetes.io/service-name label and a Service by name; kubectl
/// watches one resource). The pod appears once
/// both watches are open and goes <see cref="Linger"/> after the client's last such watch closed (a re-watch in between
/// keeps it); its log says who it is and which watches it holds.
/// </summary>
internal sealed class NodeProxyPods(TimeProvider time, Func<string, string, Logs.LogBook> createPod, Action<string> deletePod)
{
    public static readonly TimeSpan Linger = TimeSpan.FromSeconds(5);

    private sealed class Client(string description)
    {
        public string Description { get; } = description;
        public Dictionary<string, int> Open { get; } = new(StringComparer.Ordinal);
        public string? Pod { get; set; }
        public Logs.LogBook? Log { get; set; }
        public long Generation { get; set; }
    }

    private readonly Dictionary<string, Client> _clients = new(StringComparer.Ordinal);
    private readonly Lock _lock = new();

    /// <summary>
    /// Records a watch request while it lasts (dispose the result when it ends); null when the request is not a node
    /// proxy's kind of watch.
    /// </summary>
    public IDisposable? Enter(HttpContext ctx, ApiPath p, string? userName)
    {
        if (ctx.Request.Method != "GET" || p.Name is not null || (p.Type != ResourceTypes.Services && p.Type != ResourceTypes.EndpointSlices))
        {
            return null;
        }

        if (!p.LegacyWatch && !HttpIo.Flag(ctx.Request.Query["watch"]))
        {
            return null;
        }

        string fields = ctx.Request.Query["fieldSelector"].ToString();
        string labels = ctx.Request.Query["labelSelector"].ToString();
        if (fields.Contains("metadata.name", StringComparison.Ordinal) || labels.Contains("kubernetes.io/service-name", StringComparison.Ordinal))
        {
            return null;
        }

        string agent = ctx.Request.Headers.UserAgent.ToString();
        string who = $"{(agent.Length == 0 ? "(no User-Agent)" : agent)} as {userName ?? "the cluster admin"} from {ctx.Connection.RemoteIpAddress}";
        string what = $"{p.Type.Plural} in {(p.Namespace is null ? "all namespaces" : $"namespace {p.Namespace}")}";
        lock (_lock)
        {
            if (!_clients.TryGetValue(who, out Client? client))
            {
                _clients[who] = client = new Client(who);
            }

            client.Open[what] = client.Open.GetValueOrDefault(what) + 1;
            client.Generation++;
            bool watchesBoth = client.Open.Keys.Any(k => k.StartsWith("services ", StringComparison.Ordinal))
                && client.Open.Keys.Any(k => k.StartsWith("endpointslices ", StringComparison.Ordinal));
            if (client.Pod is null && watchesBoth)
            {
                string name = $"kube-proxy-{ObjectStore.RandomSuffix()}";
                client.Log = createPod(name, who);
                client.Pod = name;
                client.Log.Write($"node proxy {who}: watching {string.Join(" and ", client.Open.Keys.Order(StringComparer.Ordinal))}");
            }
            else if (client.Open[what] == 1)
            {
                client.Log?.Write($"watching {what}");
            }

            return new Lease(this, client, what);
        }
    }

    private void Leave(Client client, string what)
    {
        long generation;
        lock (_lock)
        {
            if (--client.Open[what] == 0)
            {
                client.Open.Remove(what);
            }

            if (client.Open.Count > 0)
            {
                return;
            }

            generation = ++client.Generation;
        }
        _ = RemoveLaterAsync(client, generation);
    }

    private async Task RemoveLaterAsync(Client client, long generation)
    {
        await Task.Delay(Linger, time);
        string? pod;
        lock (_lock)
        {
            if (client.Generation != generation || client.Open.Count > 0)
            {
                return; // watching again
            }

            _clients.Remove(client.Description);
            pod = client.Pod;
            client.Log?.Write("stopped watching; the node proxy is gone");
        }
        if (pod is not null)
        {
            deletePod(pod);
        }
    }

    private sealed class Lease(NodeProxyPods owner, Client client, string what) : IDisposable
    {
        private int _disposed;

        public void Dispose()
        {
            if (Interlocked.Exchange(ref _disposed, 1) == 0)
            {
                owner.Leave(client, what);
            }
        }
    }
}
