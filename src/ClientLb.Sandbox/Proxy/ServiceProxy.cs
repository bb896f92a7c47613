using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using ClientLb.Sandbox.Controllers;
using ClientLb.Sandbox.Store;
using Microsoft.Extensions.Logging;

namespace ClientLb.Sandbox.Proxy;

/// <summary>
/// A userspace service proxy (the sandbox's kube-proxy): for every Service with a ClusterIP it listens on each
/// ClusterIP:port (TCP and UDP) and forwards to the ready endpoints of its EndpointSlices, following their changes.
/// A port that cannot be bound fails that Service port alone, with a message naming the Service, the port and the remedy
/// (<see cref="Failures"/>, the log, and a Warning Event on the Service).
/// </summary>
internal sealed class ServiceProxy(ObjectStore store, ILogger logger, Action<string> log, Action<StoredObject, string>? warn) : Controller(store, logger)
{
    private readonly ConcurrentDictionary<string, Dictionary<string, IPortProxy>> _byService = new(StringComparer.Ordinal);
    private readonly ConcurrentDictionary<string, string> _failures = new(StringComparer.Ordinal);
    // Per service ("ns/name"): the versions of the Service and its slices that the last reconcile applied.
    private readonly ConcurrentDictionary<string, string> _applied = new(StringComparer.Ordinal);
    private readonly Lock _signalLock = new();
    private TaskCompletionSource _reconciled = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Service ports that could not be proxied ("ns/name port/PROTO") and why.</summary>
    public IReadOnlyDictionary<string, string> Failures => _failures;

    protected override void OnEvent(WatchEvent e)
    {
        StoredObject o = e.Object!;
        if (o.Type == ResourceTypes.Services)
        {
            Enqueue(KeyOf(o));
        }
        else if (o.Labels.TryGetValue(EndpointSliceController.ServiceNameLabel, out string? svc))
        {
            Enqueue(o.Namespace + "/" + svc);
        }
    }

    /// <summary>Completes after the next reconcile of any service.</summary>
    public Task NextReconcile { get { lock (_signalLock) { return _reconciled.Task; } } }

    /// <summary>
    /// True when the proxy forwards the service's ports as its Service and EndpointSlices in the store say now: the
    /// proxy follows them on its own worker, so a client may otherwise connect before the proxy has the new endpoints.
    /// </summary>
    public bool IsApplied(string ns, string name)
    {
        string state = StateOf(Store.Get(ResourceTypes.Services, ns, name), SlicesOf(ns, name));
        return _applied.TryGetValue(ns + "/" + name, out string? applied) ? applied == state : state.Length == 0;
    }

    private List<StoredObject> SlicesOf(string ns, string name) =>
        Store.Snapshot(ResourceTypes.EndpointSlices, ns, s => s.Labels.GetValueOrDefault(EndpointSliceController.ServiceNameLabel) == name);

    private static string StateOf(StoredObject? svc, List<StoredObject> slices) =>
        svc is null && slices.Count == 0 ? "" : $"{svc?.Uid}@{svc?.ResourceVersion} {string.Join(",", slices.Select(s => s.Name + "@" + s.ResourceVersion))}";

    protected override async Task ReconcileAsync(string key, CancellationToken ct)
    {
        (string? ns, string? name) = SplitKey(key);
        StoredObject? svc = Store.Get(ResourceTypes.Services, ns, name);
        List<StoredObject> slices = SlicesOf(ns, name);
        await ApplyAsync(key, svc, slices);
        string state = StateOf(svc, slices);
        if (state.Length == 0)
        {
            _applied.TryRemove(key, out _);
        }
        else
        {
            _applied[key] = state;
        }

        TaskCompletionSource reconciled;
        lock (_signalLock)
        {
            reconciled = _reconciled;
            _reconciled = new(TaskCreationOptions.RunContinuationsAsynchronously);
        }

        reconciled.TrySetResult();
    }

    private async Task ApplyAsync(string key, StoredObject? svc, List<StoredObject> slices)
    {
        Dictionary<string, IPortProxy> current = _byService.GetOrAdd(key, _ => []);
        string? ip = svc?.Root.Str("spec", "clusterIP");
        var wanted = new Dictionary<string, JsonElement>(StringComparer.Ordinal);
        if (svc is not null && !svc.IsDeleting && IPAddress.TryParse(ip, out _))
        {
            foreach (JsonElement p in svc.Root.Items("spec", "ports"))
            {
                wanted[$"{ip}:{p.Int("port")}/{p.Str("protocol") ?? "TCP"}"] = p;
            }
        }

        foreach ((string? portKey, IPortProxy? proxy) in current.ToList())
        {
            if (!wanted.ContainsKey(portKey))
            {
                current.Remove(portKey);
                await proxy.DisposeAsync();
                log($"service {key} port {portKey}: stopped proxying");
            }
        }

        foreach (string? failed in _failures.Keys.Where(k => k.StartsWith(key + " ", StringComparison.Ordinal) && !wanted.ContainsKey(k[(key.Length + 1)..])))
        {
            _failures.TryRemove(failed, out _);
        }

        if (wanted.Count == 0) { _byService.TryRemove(key, out _); return; }

        TimeSpan? affinity = svc!.Root.Str("spec", "sessionAffinity") == "ClientIP"
            ? TimeSpan.FromSeconds(svc.Root.Int("spec", "sessionAffinityConfig", "clientIP", "timeoutSeconds") ?? 10800) : (TimeSpan?)null;
        foreach ((string? portKey, JsonElement port) in wanted)
        {
            IPEndPoint[] ready = ReadyEndpoints(slices, port.Str("name") ?? "", port.Str("protocol") ?? "TCP");
            if (!current.TryGetValue(portKey, out IPortProxy? proxy))
            {
                proxy = Start(svc, ip!, port, portKey);
                if (proxy is null)
                {
                    continue;
                }

                current[portKey] = proxy;
            }
            proxy.Backends.AffinityTimeout = affinity;
            IReadOnlyList<IPEndPoint> before = proxy.Backends.Ready;
            proxy.Backends.Set(ready);
            if (!before.SequenceEqual(ready))
            {
                log($"service {key} port {portKey}: {(ready.Length == 0 ? "no ready endpoints (connections are rejected)" : string.Join(", ", ready.Select(r => r.ToString())))}");
            }
        }
    }

    private IPortProxy? Start(StoredObject svc, string ip, JsonElement port, string portKey)
    {
        string key = svc.Namespace + "/" + svc.Name;
        int number = (int)(port.Int("port") ?? 0);
        string protocol = port.Str("protocol") ?? "TCP";
        var at = new IPEndPoint(IPAddress.Parse(ip), number);
        var backends = new Backends(Store.Time);
        try
        {
            IPortProxy proxy = protocol switch
            {
                "TCP" => new TcpPortProxy(at, backends, $"service {key} port {portKey}", log),
                "UDP" => new UdpPortProxy(at, backends, $"service {key} port {portKey}", log, Store.Time),
                _ => throw new NotSupportedException($"the sandbox's service proxy forwards TCP and UDP only, not {protocol}"),
            };
            _failures.TryRemove($"{key} {portKey}", out _);
            log($"service {key} port {portKey}: listening");
            return proxy;
        }
        catch (Exception ex) when (ex is SocketException or NotSupportedException)
        {
            string remedy = ex is SocketException { SocketErrorCode: SocketError.AccessDenied }
                ? $"ports below 1024 need root or CAP_NET_BIND_SERVICE: run the sandbox as root, lower net.ipv4.ip_unprivileged_port_start, or give the Service a port of 1024 or more"
                : ex is SocketException { SocketErrorCode: SocketError.AddressAlreadyInUse }
                    ? $"another process listens on {at}: stop it, or delete and recreate the Service for another ClusterIP"
                    : "reach the pods by their own addresses instead";
            string portName = port.Str("name") is { Length: > 0 } n ? $"port \"{n}\", " : "";
            string message = $"service {key}: the proxy cannot listen on {at} ({portName}{number}/{protocol}): {ex.Message}; {remedy}. Other Services are unaffected; --no-service-proxy (SandboxOptions.EnableServiceProxy = false) turns the proxy off.";
            _failures[$"{key} {portKey}"] = message;
            log(message);
            Logger.LogWarning("{Message}", message);
            warn?.Invoke(svc, message);
            return null;
        }
    }

    /// <summary>Ready endpoints of the slices for one service port (by port name and protocol); serving terminating ones only when none is ready, as kube-proxy does.</summary>
    private static IPEndPoint[] ReadyEndpoints(List<StoredObject> slices, string portName, string protocol)
    {
        var ready = new List<IPEndPoint>();
        var terminating = new List<IPEndPoint>();
        foreach (StoredObject slice in slices)
        {
            JsonElement port = slice.Root.Items("ports").FirstOrDefault(p => (p.Str("name") ?? "") == portName && (p.Str("protocol") ?? "TCP") == protocol);
            if (port.ValueKind != JsonValueKind.Object || port.Int("port") is not long number)
            {
                continue;
            }

            foreach (JsonElement e in slice.Root.Items("endpoints"))
            {
                bool isReady = e.Get("conditions", "ready") is not { ValueKind: JsonValueKind.False };
                bool serving = e.Get("conditions", "serving") is not { ValueKind: JsonValueKind.False };
                foreach (JsonElement a in e.Items("addresses"))
                {
                    if (IPAddress.TryParse(a.GetString(), out IPAddress? address))
                    {
                        (isReady ? ready : serving ? terminating : null)?.Add(new IPEndPoint(address, (int)number));
                    }
                }
            }
        }
        List<IPEndPoint> chosen = ready.Count > 0 ? ready : terminating;
        return chosen.OrderBy(e => e.ToString(), StringComparer.Ordinal).ToArray();
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        foreach (Dictionary<string, IPortProxy> ports in _byService.Values)
        {
            foreach (IPortProxy proxy in ports.Values)
            {
                await proxy.DisposeAsync();
            }
        }

        _byService.Clear();
    }
}
