using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using ClientLb.Balancing;
using ClientLb.Kubernetes.Client;
using ClientLb.Registry;
using ClientLb.Sandbox;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Benchmarks;

/// <summary>
/// Scripted load tests of the Kubernetes source against the sandbox API server (real HTTP watch streams):
/// <list type="bullet">
/// <item><c>k8s-latency [changes=500]</c>: an EndpointSlice is rewritten (one endpoint's readiness flips); the time from
/// the API server committing the change to the balancer's picker being swapped, p50/p99/max.</item>
/// <item><c>k8s-memory [services=5000] [endpoints=2]</c>: managed heap held by ClientLb for that many watched services
/// (that many endpoints each, one slice per service, one namespace), measured as the difference of full-GC heap sizes
/// in a process that holds only the client: the sandbox API server runs in a child process (<c>k8s-sandbox</c>). With
/// <c>--hold SECONDS</c> last, the process keeps the client that long after measuring (for <c>dotnet-gcdump collect -p PID</c>).</item>
/// </list>
/// </summary>
public static class KubernetesLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        int hold = 0;
        if (args.Length > 2 && args[^2] == "--hold")
        {
            hold = int.Parse(args[^1], CultureInfo.InvariantCulture);
            args = args[..^2];
        }
        int n(int fallback) => args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : fallback;
        return args[0] switch
        {
            "k8s-latency" => await LatencyAsync(n(500)),
            "k8s-memory" => await MemoryAsync(n(5000), args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 2, hold),
            "k8s-sandbox" => await ServeSandboxAsync(n(5000), int.Parse(args[2], CultureInfo.InvariantCulture)),
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

    private static ServiceProvider Client(SandboxCluster cluster) => Client(cluster.KubeconfigPath);

    private static ServiceProvider Client(string kubeconfig)
    {
        var services = new ServiceCollection();
        services.AddClientLbKubernetes(o =>
        {
            o.KubeconfigPath = kubeconfig;
            o.AllowLoopbackEndpoints = true; // sandbox pods are 127.244.x.y servers
        });
        return services.BuildServiceProvider();
    }

    private static async Task<int> LatencyAsync(int changes)
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { EnableDns = false });
        await cluster.CreateAsync(Service("lat"));
        await cluster.CreateAsync(Slice("lat", 0, true));
        // The client's requests go through a KubernetesClient client handed over to ClientLb (as an application may do),
        // with a handler that notes when a read of the watch's response body returns bytes: the event reaching the client.
        var arrivals = new ArrivalClock();
        using var kubernetes = new k8s.Kubernetes(ClientLb.Kubernetes.Client.KubernetesConnection.Load(cluster.KubeconfigPath), arrivals);
        var services = new ServiceCollection();
        services.AddSingleton<k8s.IKubernetes>(kubernetes);
        services.AddClientLbKubernetes(o => o.AllowLoopbackEndpoints = true); // sandbox pods are 127.244.x.y servers
        await using ServiceProvider provider = services.BuildServiceProvider();
        ServiceBalancer balancer = provider.GetRequiredService<ServiceRegistry>().GetBalancer("lat.default");
        await balancer.EnsureReadyAsync(TimeSpan.FromSeconds(10), default);

        // The balancer subscribed first, so this callback runs right after the picker swap, on the thread that read the event.
        var swapped = new SemaphoreSlim(0);
        long swappedAt = 0, arrivedAt = 0;
        using IDisposable _ = balancer.Source.Subscribe(_ =>
        {
            Volatile.Write(ref arrivedAt, arrivals.LastRead);
            Volatile.Write(ref swappedAt, Stopwatch.GetTimestamp());
            swapped.Release();
        });
        var samples = new List<double>(changes);
        var clientSide = new List<double>(changes);
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
            long at = Volatile.Read(ref swappedAt);
            samples.Add(Stopwatch.GetElapsedTime(committed, Math.Max(committed, at)).TotalMilliseconds);
            clientSide.Add(Stopwatch.GetElapsedTime(Volatile.Read(ref arrivedAt), at).TotalMilliseconds);
        }
        Console.WriteLine($"k8s-latency: {changes} slice changes, API commit -> picker swapped: {Percentiles(samples)}");
        Console.WriteLine($"k8s-latency: {changes} slice changes, watch event read by the client -> picker swapped: {Percentiles(clientSide)}");
        return 0;
    }

    private static string Percentiles(List<double> samples)
    {
        samples.Sort();
        double P(double q) => samples[Math.Min(samples.Count - 1, (int)Math.Ceiling(q * samples.Count) - 1)];
        return $"p50 {P(0.5):0.000} ms, p90 {P(0.9):0.000} ms, p99 {P(0.99):0.000} ms, max {samples[^1]:0.000} ms";
    }

    /// <summary>Notes when a read of a watch response's body last returned bytes (Stopwatch ticks).</summary>
    private sealed class ArrivalClock : DelegatingHandler
    {
        private long _lastRead;

        public long LastRead => Volatile.Read(ref _lastRead);

        protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
        {
            HttpResponseMessage response = await base.SendAsync(request, cancellationToken);
            if (request.RequestUri?.Query.Contains("watch=1", StringComparison.Ordinal) == true)
            {
                response.Content = new TimedContent(response.Content, this);
            }
            return response;
        }

        private sealed class TimedContent : HttpContent
        {
            private readonly HttpContent _inner;
            private readonly ArrivalClock _clock;

            public TimedContent(HttpContent inner, ArrivalClock clock)
            {
                _inner = inner;
                _clock = clock;
                foreach (KeyValuePair<string, IEnumerable<string>> header in inner.Headers)
                {
                    Headers.TryAddWithoutValidation(header.Key, header.Value);
                }
            }

            protected override async Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
                new TimedStream(await _inner.ReadAsStreamAsync(cancellationToken), _clock);

            protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

            protected override Task SerializeToStreamAsync(Stream stream, System.Net.TransportContext? context) => _inner.CopyToAsync(stream);

            protected override bool TryComputeLength(out long length)
            {
                length = 0;
                return false;
            }

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    _inner.Dispose();
                }
                base.Dispose(disposing);
            }
        }

        private sealed class TimedStream(Stream inner, ArrivalClock clock) : Stream
        {
            public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
            {
                int read = await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false);
                if (read > 0)
                {
                    Volatile.Write(ref clock._lastRead, Stopwatch.GetTimestamp());
                }
                return read;
            }

            public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
                ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

            public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException("the watch is read asynchronously");

            public override bool CanRead => true;

            public override bool CanSeek => false;

            public override bool CanWrite => false;

            public override long Length => throw new NotSupportedException();

            public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

            public override void Flush()
            {
            }

            public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();

            public override void SetLength(long value) => throw new NotSupportedException();

            public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();

            protected override void Dispose(bool disposing)
            {
                if (disposing)
                {
                    inner.Dispose();
                }
                base.Dispose(disposing);
            }

            public override ValueTask DisposeAsync() => inner.DisposeAsync();
        }
    }

    private static async Task<int> MemoryAsync(int count, int endpoints, int holdSeconds)
    {
        // The API server in another process, so the heap measured here is the client's alone.
        using Process sandbox = ChildProcess.Start("k8s-sandbox", count, endpoints);
        string? ready = await sandbox.StandardOutput.ReadLineAsync();
        if (ready is null || !ready.StartsWith("kubeconfig ", StringComparison.Ordinal))
        {
            Console.Error.WriteLine($"k8s-memory: the sandbox process did not start ({ready ?? "no output"}); its errors are above.");
            await ChildProcess.StopAsync(sandbox);
            return 1;
        }
        string kubeconfig = ready["kubeconfig ".Length..];
        try
        {
            long before = Heap();
            var started = Stopwatch.StartNew();
            ServiceProvider provider = Client(kubeconfig);
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
            TimeSpan took = started.Elapsed;
            int eligible = balancers.Sum(b => b.EligibleCount);
            long after = Heap();
            if (holdSeconds > 0)
            {
                Console.WriteLine($"k8s-memory: {(after - before) / 1048576.0:0.0} MB; holding process {Environment.ProcessId} for {holdSeconds} s");
                await Task.Delay(TimeSpan.FromSeconds(holdSeconds));
            }
            // Of which the container gives back when disposed (the rest stays loaded once, such as JSON metadata).
            balancers.Clear();
            await provider.DisposeAsync();
            long released = after - Heap();
            Console.WriteLine($"k8s-memory: {count} watched services ({eligible} eligible endpoints) ready in {took.TotalSeconds:0.00} s; client process heap " +
                $"{(after - before) / 1048576.0:0.0} MB ({(after - before) / (double)count / 1024:0.0} KB per service; the API server runs in another process), " +
                $"of which {released / 1048576.0:0.0} MB is given back when the container is disposed");
            return eligible == endpoints * count ? 0 : 1;
        }
        finally
        {
            await ChildProcess.StopAsync(sandbox); // the child stops its sandbox when its input ends
        }
    }

    /// <summary>The child of <c>k8s-memory</c>: a sandbox with the services, its kubeconfig path on stdout, until stdin ends.</summary>
    private static async Task<int> ServeSandboxAsync(int count, int endpoints)
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { EnableDns = false, WatchHistorySize = 100 });
        for (int i = 0; i < count; i++)
        {
            await cluster.CreateAsync(Service($"svc-{i}"));
            await cluster.CreateAsync(endpoints == 2 ? Slice($"svc-{i}", i, true) : Slice($"svc-{i}", i, endpoints));
        }
        Console.WriteLine("kubeconfig " + cluster.KubeconfigPath);
        await Console.In.ReadToEndAsync();
        return 0;
    }

    private static long Heap()
    {
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        GC.WaitForPendingFinalizers();
        GC.Collect(2, GCCollectionMode.Forced, blocking: true, compacting: true);
        return GC.GetTotalMemory(forceFullCollection: true);
    }
}
