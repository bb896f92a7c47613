using System.Collections.Concurrent;
using System.Text.Json;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Controllers;
using ClientLb.Sandbox.Logs;
using ClientLb.Sandbox.Store;
using Microsoft.Extensions.Logging;

namespace ClientLb.Sandbox.Pods;

/// <summary>
/// Scheduler and kubelet in one: binds pods to the least loaded node, gives each a pod IP from the loopback pod
/// CIDR, runs its HTTP server, reports status (Ready follows the <see cref="ReadyAnnotation"/> annotation), and on
/// deletion keeps serving for the grace period (measured with the cluster's TimeProvider) before stopping.
/// </summary>
/// <remarks>Run-to-completion pods (Jobs') run programs instead of a server: see <see cref="ProgramRunner"/>.</remarks>
internal sealed class PodRuntime(ObjectStore store, ILogger logger, IpAllocator podIps, ILoggerFactory? loggerFactory, Logs.PodLogs logs, ProgramRunner programs) : Controller(store, logger)
{
    /// <summary>Set to "false" to make a pod unready (also works with <c>kubectl annotate</c>).</summary>
    public const string ReadyAnnotation = "sandbox.clientlb.io/ready";

    /// <summary>
    /// On kube-system pods the sandbox itself runs (cluster DNS, service proxy): the component that the pod stands for
    /// writes its status and log, so the runtime leaves the pod alone.
    /// </summary>
    public const string ComponentAnnotation = "sandbox.clientlb.io/component";

    private sealed class Instance(string uid, string ip)
    {
        public string Uid { get; } = uid;
        public string Ip { get; } = ip;
        public PodServer? Server { get; set; }
        public PodRun? Run { get; set; }
        public string? Failure { get; set; }
        public bool GraceStarted { get; set; }
        public bool GraceElapsed { get; set; }
        public List<(string Container, Logs.LogBook Book)> Logs { get; } = [];
    }

    private readonly ConcurrentDictionary<string, Instance> _instances = new(StringComparer.Ordinal);

    protected override void OnEvent(WatchEvent e) => Enqueue(KeyOf(e.Object!));

    protected override async Task ReconcileAsync(string key, CancellationToken ct)
    {
        (string? ns, string? name) = SplitKey(key);
        StoredObject? pod = Store.Get(ResourceTypes.Pods, ns, name);
        _instances.TryGetValue(key, out Instance? instance);
        if (instance is not null && (pod is null || pod.Uid != instance.Uid))
        {
            await StopAsync(key, instance);
            instance = null;
        }
        if (pod is null)
        {
            return;
        }

        if (pod.Namespace == "kube-system" && pod.Root.Str("metadata", "annotations", ComponentAnnotation) is not null)
        {
            return;
        }

        if (pod.IsDeleting)
        {
            if (instance is null || instance.Server is null || instance.GraceElapsed)
            {
                if (instance is not null)
                {
                    await StopAsync(key, instance);
                }

                Store.Remove(ResourceTypes.Pods, ns, name, pod.Uid);
                return;
            }
            if (!instance.GraceStarted)
            {
                instance.GraceStarted = true;
                var grace = TimeSpan.FromSeconds(pod.Root.Int("metadata", "deletionGracePeriodSeconds") ?? 0);
                _ = WaitGraceAsync(key, instance, grace);
            }
            return; // still serving while terminating
        }

        if (string.IsNullOrEmpty(pod.Root.Str("spec", "nodeName")))
        {
            string node = PickNode();
            Store.Mutate(ResourceTypes.Pods, ns, name, o => { o.Obj("spec")["nodeName"] = node; return o; }, UpdateMode.Internal);
            return;
        }

        if (instance is null)
        {
            instance = ProgramRunner.RunsToCompletion(pod) ? StartRun(pod, key) : await StartInstanceAsync(pod, ct);
            _instances[key] = instance;
        }
        WriteStatus(pod, instance);
    }

    /// <summary>Gives the pod an address and starts its server; an address taken by another process is skipped.</summary>
    private async Task<Instance> StartInstanceAsync(StoredObject pod, CancellationToken ct)
    {
        var ports = pod.Root.Items("spec", "containers").SelectMany(c => c.Items("ports"))
            .Where(p => (p.Str("protocol") ?? "TCP") == "TCP").Select(p => (int)(p.Int("containerPort") ?? 0)).Where(p => p > 0).Distinct().ToList();
        var http2Only = pod.Root.Items("spec", "containers").SelectMany(c => c.Items("ports"))
            .Where(p => p.Str("name") is { } n && (n.StartsWith("h2c", StringComparison.Ordinal) || n.StartsWith("grpc", StringComparison.Ordinal)))
            .Select(p => (int)(p.Int("containerPort") ?? 0)).ToHashSet();
        var skipped = new List<string>();
        try
        {
            for (int attempt = 0; attempt < 8; attempt++)
            {
                string? ip = podIps.Allocate();
                if (ip is null)
                {
                    return new Instance(pod.Uid, "") { Failure = $"the pod CIDR {podIps.Cidr} has no free address" };
                }

                var instance = new Instance(pod.Uid, ip);
                if (ports.Count == 0) { OpenLogs(pod, instance, ip, http2Only); return instance; }
                try
                {
                    Dictionary<int, LogBook> portLogs = OpenLogs(pod, instance, ip, http2Only);
                    instance.Server = await PodServer.StartAsync(pod.Namespace, pod.Name, ip, ports, http2Only, loggerFactory,
                        port => portLogs.GetValueOrDefault(port) ?? instance.Logs[0].Book, Store.Time, ct);
                    return instance;
                }
                catch (IOException ex) when (ex.InnerException is Microsoft.AspNetCore.Connections.AddressInUseException)
                {
                    skipped.Add(ip); // held by another process; released below, the allocator cursor has moved past it
                }
                catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or InvalidOperationException)
                {
                    Logger.LogWarning(ex, "Pod {Namespace}/{Name} could not start its server", pod.Namespace, pod.Name);
                    return new Instance(pod.Uid, ip) { Failure = $"failed to listen on {ip} ports {string.Join(",", ports)}: {ex.Message}" };
                }
            }
            return new Instance(pod.Uid, "") { Failure = $"addresses {string.Join(", ", skipped)} are in use by other processes" };
        }
        finally
        {
            foreach (string ip in skipped)
            {
                podIps.Release(ip);
            }
        }
    }

    /// <summary>A run-to-completion pod: an address (as a pod has) and its containers' programs; each change rewrites its status.</summary>
    private Instance StartRun(StoredObject pod, string key)
    {
        string ip = podIps.Allocate() ?? "";
        var instance = new Instance(pod.Uid, ip);
        OpenLogs(pod, instance, ip, new HashSet<int>());
        instance.Run = programs.Start(pod, instance.Logs, () => Enqueue(key));
        return instance;
    }

    /// <summary>A log per container, each starting with the ports it listens on; returns the log of each TCP port.</summary>
    private Dictionary<int, Logs.LogBook> OpenLogs(StoredObject pod, Instance instance, string ip, IReadOnlySet<int> http2Only)
    {
        var byPort = new Dictionary<int, Logs.LogBook>();
        foreach (JsonElement c in pod.Root.Items("spec", "containers"))
        {
            string name = c.Str("name") ?? "";
            LogBook book = logs.Open(pod.Namespace, pod.Name, name);
            instance.Logs.Add((name, book));
            foreach (JsonElement p in c.Items("ports").Where(p => (p.Str("protocol") ?? "TCP") == "TCP"))
            {
                int port = (int)(p.Int("containerPort") ?? 0);
                if (port <= 0 || !byPort.TryAdd(port, book))
                {
                    continue;
                }

                book.Write($"sandbox pod {pod.Namespace}/{pod.Name} container {name}: listening on {ip}:{port} ({(http2Only.Contains(port) ? "h2c" : "HTTP/1.1")})");
            }
        }
        return byPort;
    }

    private async Task WaitGraceAsync(string key, Instance instance, TimeSpan grace)
    {
        try { await Task.Delay(grace, Store.Time, Stopping); }
        catch (OperationCanceledException) { return; }
        instance.GraceElapsed = true;
        Enqueue(key);
    }

    private async Task StopAsync(string key, Instance instance)
    {
        _instances.TryRemove(new KeyValuePair<string, Instance>(key, instance));
        if (instance.Server is not null)
        {
            await instance.Server.DisposeAsync();
        }

        instance.Server = null;
        if (instance.Run is not null)
        {
            await instance.Run.DisposeAsync();
        }

        instance.Run = null;
        foreach ((string? container, LogBook? book) in instance.Logs)
        {
            logs.Remove(SplitKey(key).Ns, SplitKey(key).Name, container, book);
        }

        if (instance.Ip.Length > 0)
        {
            podIps.Release(instance.Ip);
        }
    }

    private string PickNode()
    {
        var load = Store.Snapshot(ResourceTypes.Pods, null, p => !p.IsDeleting)
            .GroupBy(p => p.Root.Str("spec", "nodeName") ?? "").ToDictionary(g => g.Key, g => g.Count());
        return Store.Snapshot(ResourceTypes.Nodes).Select(n => n.Name).OrderBy(n => load.GetValueOrDefault(n)).ThenBy(n => n, StringComparer.Ordinal).First();
    }

    private void WriteStatus(StoredObject pod, Instance instance)
    {
        if (instance.Run is { } run)
        {
            IReadOnlyList<ContainerRunState> states = run.States;
            Store.Mutate(ResourceTypes.Pods, pod.Namespace, pod.Name, o =>
            {
                o["status"] = ProgramRunner.Status(o["status"] as JsonObject, states, instance.Ip, Json.Timestamp(Store.Time.GetUtcNow()));
                return o;
            }, UpdateMode.Internal);
            return;
        }
        bool wantReady = pod.Root.Str("metadata", "annotations", ReadyAnnotation) != "false";
        bool failed = instance.Failure is not null;
        bool ready = wantReady && !failed;
        if (instance.Server is { } server)
        {
            server.Ready = ready; // what its gRPC health service answers
            var fault = PodFault.From(pod);
            if (fault != server.Fault && fault.Error is { } faultError)
            {
                instance.Logs.FirstOrDefault().Book?.Write(faultError);
            }

            server.Fault = fault;
        }
        string now = Json.Timestamp(Store.Time.GetUtcNow());
        Store.Mutate(ResourceTypes.Pods, pod.Namespace, pod.Name, o =>
        {
            var old = o["status"] as JsonObject;
            string started = old?.Str("startTime") ?? now;
            var status = new JsonObject
            {
                ["phase"] = failed ? "Failed" : "Running",
                ["conditions"] = new JsonArray(
                    DeploymentController.Condition(old, "PodScheduled", true, "Scheduled", "", now),
                    DeploymentController.Condition(old, "Initialized", true, "Initialized", "", now),
                    DeploymentController.Condition(old, "ContainersReady", ready, ready ? "ContainersReady" : "ContainersNotReady", "", now),
                    DeploymentController.Condition(old, "Ready", ready, ready ? "PodReady" : wantReady ? "ContainersNotReady" : "SandboxReadinessOverride", "", now)),
                ["hostIP"] = "127.0.0.1",
                ["hostIPs"] = new JsonArray(new JsonObject { ["ip"] = "127.0.0.1" }),
                ["startTime"] = started,
                ["qosClass"] = "BestEffort",
            };
            if (failed)
            {
                status["reason"] = "PortBindFailed";
                status["message"] = instance.Failure;
            }
            if (instance.Ip.Length > 0)
            {
                status["podIP"] = instance.Ip;
                status["podIPs"] = new JsonArray(new JsonObject { ["ip"] = instance.Ip });
            }
            var containers = new JsonArray();
            foreach (JsonObject c in (o.Node("spec", "containers") as JsonArray ?? []).OfType<JsonObject>())
            {
                JsonObject state = failed
                    ? new JsonObject { ["terminated"] = new JsonObject { ["exitCode"] = 1, ["reason"] = "PortBindFailed", ["message"] = instance.Failure } }
                    : new JsonObject { ["running"] = new JsonObject { ["startedAt"] = started } };
                containers.Add((JsonNode)new JsonObject
                {
                    ["name"] = c.Str("name"),
                    ["image"] = c.Str("image"),
                    ["imageID"] = "",
                    ["ready"] = ready,
                    ["started"] = !failed,
                    ["restartCount"] = 0,
                    ["state"] = state,
                });
            }
            status["containerStatuses"] = containers;
            o["status"] = status;
            return o;
        }, UpdateMode.Internal);
    }

    public override async ValueTask DisposeAsync()
    {
        await base.DisposeAsync();
        foreach ((string? key, Instance? instance) in _instances.ToArray())
        {
            await StopAsync(key, instance);
        }
    }
}
