using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using ClientLb.LoadBalancing;
using ClientLb.Sandbox;
using ClientLb.ServiceDiscovery;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Benchmarks;

/// <summary>
/// Scripted load tests of the Kubernetes source against the sandbox API server (real HTTP watch streams):
/// <list type="bullet">
/// <item><c>k8s-latency [changes=500]</c>: an EndpointSlice is rewritten (one endpoint's readiness flips); the time from
/// the API server committing the change to the balancer's picker being swapped, p50/p99/max.</item>
/// <item><c>k8s-memory [services=5000] [endpoints=2]</c>: managed heap held by ClientLb for that many watched services
/// (that many endpoints each, one slice per service, one namespace), measured as the difference of full-GC heap sizes.
/// With <c>--hold</c> it waits for a line on stdin once everything is ready, so a heap dump (<c>dotnet-gcdump collect -p PID</c>) can be taken.</item>
/// </list>
/// </summary>
public static class KubernetesLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        int n(int fallback) => args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : fallback;
        return args[0] switch
        {
            "k8s-latency" => await LatencyAsync(n(500)),
            "k8s-memory" => await MemoryAsync(n(5000), args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2, hold: args.Contains("--hold")),
            _ => throw new ArgumentException($"unknown load test '{args[0]}'"),
        };
    }

    internal static JsonObject Service(string name) => new()
    {
        ["apiVersion"] = "v1",
        ["kind"] = "Service",
        ["metadata"] = new JsonObject { ["name"] = name, ["namespace"] = "default" },
        ["spec"] = new JsonObject { ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = 80, ["targetPort"] = 8080 }) },
    };

    internal static JsonObject Slice(string service, int index, bool firstReady) => new()
    {
        ["apiVersion"] = "discovery.k8s.io/v1",
        ["kind"] = "EndpointSlice",
        ["metadata"] = new JsonObject
        {
            ["name"] = service + "-1",
            ["namespace"] = "default",
            ["labels"] = new JsonObject { ["kubernetes.io/service-name"] = service },
        },
        ["addressType"] = "IPv4",
        ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = 8080, ["protocol"] = "TCP" }),
        ["endpoints"] = new JsonArray(
            new JsonObject { ["addresses"] = new JsonArray($"127.246.{index / 100}.{index % 100 * 2 + 1}"), ["conditions"] = new JsonObject { ["ready"] = firstReady } },
            new JsonObject { ["addresses"] = new JsonArray($"127.246.{index / 100}.{index % 100 * 2 + 2}"), ["conditions"] = new JsonObject { ["ready"] = true } }),
    };

    /// <summary>A slice of <paramref name="endpoints"/> ready endpoints, each address its own (127.64.0.1 upwards).</summary>
    private static JsonObject Slice(string service, int index, int endpoints)
    {
        JsonObject slice = Slice(service, index, firstReady: true);
        var list = new JsonArray();
        for (int k = 0; k < endpoints; k++)
        {
            int n = index * endpoints + k + 1;
            list.Add(new JsonObject { ["addresses"] = new JsonArray($"127.{64 + (n >> 16)}.{(n >> 8) & 255}.{n & 255}"), ["conditions"] = new JsonObject { ["ready"] = true } });
        }
        slice["endpoints"] = list;
        return slice;
    }

    private static ServiceProvider Client(SandboxCluster cluster)
    {
        var services = new ServiceCollection();
        services.AddClientLbKubernetes(o =>
        {
            o.KubeconfigPath = cluster.KubeconfigPath;
            o.AllowLoopbackEndpoints = true; // sandbox pods are 127.244.x.y servers
        });
        return services.BuildServiceProvider();
    }

    private static async Task<int> LatencyAsync(int changes)
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { EnableDns = false });
        await cluster.CreateAsync(Service("lat"));
        await cluster.CreateAsync(Slice("lat", 0, true));
        await using ServiceProvider provider = Client(cluster);
        ServiceBalancer balancer = provider.GetRequiredService<ServiceRegistry>().GetBalancer("lat.default");
        await balancer.EnsureReadyAsync(TimeSpan.FromSeconds(10), default);

        // The balancer subscribed first, so this callback runs right after the picker swap.
        var swapped = new SemaphoreSlim(0);
        long swappedAt = 0;
        using IDisposable _ = balancer.Source.Subscribe(_ => { Volatile.Write(ref swappedAt, Stopwatch.GetTimestamp()); swapped.Release(); });
        var samples = new List<double>(changes);
        for (int i = 0; i < changes; i++)
        {
            int expected = i % 2 == 0 ? 1 : 2;
            await cluster.ApplyManifestAsync(Slice("lat", 0, firstReady: i % 2 == 1).ToJsonString());
            long committed = Stopwatch.GetTimestamp();
            while (balancer.EligibleCount != expected)
            {
                if (!await swapped.WaitAsync(TimeSpan.FromSeconds(10)))
                {
                    Console.Error.WriteLine($"change {i}: the picker did not follow within 10 s");
                    return 1;
                }
            }
            samples.Add(Stopwatch.GetElapsedTime(committed, Math.Max(committed, Volatile.Read(ref swappedAt))).TotalMilliseconds);
        }
        samples.Sort();
        double P(double q) => samples[Math.Min(samples.Count - 1, (int)Math.Ceiling(q * samples.Count) - 1)];
        Console.WriteLine($"k8s-latency: {changes} slice changes, API commit -> picker swapped: p50 {P(0.5):0.000} ms, p90 {P(0.9):0.000} ms, p99 {P(0.99):0.000} ms, max {samples[^1]:0.000} ms");
        return 0;
    }

    private static async Task<int> MemoryAsync(int count, int endpoints, bool hold)
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { EnableDns = false, WatchHistorySize = 100 });
        for (int i = 0; i < count; i++)
        {
            await cluster.CreateAsync(Service($"svc-{i}"));
            await cluster.CreateAsync(endpoints == 2 ? Slice($"svc-{i}", i, true) : Slice($"svc-{i}", i, endpoints));
        }
        long before = Heap();
        var started = Stopwatch.StartNew();
        ServiceProvider provider = Client(cluster);
        ServiceRegistry registry = provider.GetRequiredService<ServiceRegistry>();
        var balancers = new List<ServiceBalancer>(count);
        for (int i = 0; i < count; i++)
        {
            balancers.Add(registry.GetBalancer($"svc-{i}.default"));
        }
        foreach (ServiceBalancer balancer in balancers)
        {
            await balancer.EnsureReadyAsync(TimeSpan.FromSeconds(60), default);
        }
        TimeSpan ready = started.Elapsed;
        int eligible = balancers.Sum(b => b.EligibleCount);
        long after = Heap();
        if (hold)
        {
            Console.WriteLine($"k8s-memory: ready, heap {(after - before) / 1048576.0:0.0} MB; process {Environment.ProcessId} holds it until a line is read from stdin");
            Console.ReadLine();
        }
        // What the client side alone holds: the heap it gives back when its container is disposed (the rest of the
        // difference is the in-process sandbox's state for the watch, and what stays loaded once, such as JSON metadata).
        balancers.Clear();
        await provider.DisposeAsync();
        long released = after - Heap();
        if (hold)
        {
            Console.WriteLine($"k8s-memory: client disposed, {released / 1048576.0:0.0} MB given back; process {Environment.ProcessId} waits for a line on stdin");
            Console.ReadLine();
        }
        Console.WriteLine($"k8s-memory: {count} watched services ({eligible} eligible endpoints) ready in {ready.TotalSeconds:0.00} s; heap {(after - before) / 1048576.0:0.0} MB ({(after - before) / (double)count / 1024:0.0} KB per service), of which the client side gives back {released / 1048576.0:0.0} MB when disposed ({released / (double)count / 1024:0.0} KB per service)");
        return eligible == endpoints * count ? 0 : 1;
    }

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
