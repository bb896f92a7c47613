using System.Diagnostics;
using System.Globalization;
using System.Text.Json.Nodes;
using ClientLb.Agent.Relay;
using ClientLb.Balancing;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using ClientLb.Registry;
using ClientLb.Sandbox;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Benchmarks;

/// <summary>
/// <c>relay-latency [changes=500]</c>: an EndpointSlice is rewritten (one endpoint's readiness flips) in the sandbox; the
/// time from the API server committing the change to the picker being swapped, for two clients following the same
/// change: one through the agent's node relay (API -> agent's watch -> Unix socket -> SDK), one with its own watch (the
/// baseline, same run, same changes).
/// </summary>
public static class RelayLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        int changes = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 500;
        string dir = Directory.CreateTempSubdirectory("clientlb-relay-bench-").FullName;
        try
        {
            return await LatencyAsync(changes, Path.Combine(dir, "relay.sock"));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    private static async Task<int> LatencyAsync(int changes, string socket)
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { EnableDns = false, UseHttps = true });
        await cluster.CreateAsync(KubernetesLoad.Service("lat"));
        await cluster.CreateAsync(KubernetesLoad.Slice("lat", 0, true));
        k8s.KubernetesClientConfiguration config = KubernetesConnection.Load(cluster.KubeconfigPath);
        await using NodeRelayServer relay = await NodeRelayServer.StartAsync(KubernetesApiClient.FromConfiguration(config), new TokenListAuthorizer(config), new NodeRelayServerOptions { SocketPath = socket });
        await using ServiceProvider direct = Client(cluster, relaySocket: null);
        await using ServiceProvider relayed = Client(cluster, socket);
        Side[] sides = new[] { new Side("direct watch", direct), new Side("node relay", relayed) };
        foreach (Side side in sides)
        {
            await side.Balancer.EnsureReadyAsync(TimeSpan.FromSeconds(10), default);
        }
        if (sides[1].Balancer.Source.Kind != "node")
        {
            Console.Error.WriteLine("relay-latency: the relayed client does not use the node relay");
            return 1;
        }
        for (int i = 0; i < changes; i++)
        {
            int expected = i % 2 == 0 ? 1 : 2;
            await cluster.ApplyManifestAsync(KubernetesLoad.Slice("lat", 0, firstReady: i % 2 == 1).ToJsonString());
            long committed = Stopwatch.GetTimestamp();
            foreach (Side side in sides)
            {
                if (!await side.WaitAsync(expected, committed))
                {
                    Console.Error.WriteLine($"relay-latency: change {i}: the {side.Name} picker did not follow within 10 s");
                    return 1;
                }
            }
        }
        foreach (Side side in sides)
        {
            Console.WriteLine($"relay-latency {side.Name}: {changes} slice changes, API commit -> picker swapped: {side.Summary()}");
        }
        Console.WriteLine($"relay-latency: node relay / direct watch p50 {sides[1].P(0.5) / sides[0].P(0.5):0.00}x, p99 {sides[1].P(0.99) / sides[0].P(0.99):0.00}x");
        return 0;
    }

    private static ServiceProvider Client(SandboxCluster cluster, string? relaySocket)
    {
        var services = new ServiceCollection();
        services.AddClientLbKubernetes(o =>
        {
            o.KubeconfigPath = cluster.KubeconfigPath;
            o.AllowLoopbackEndpoints = true;
            o.NodeRelay.Enabled = relaySocket is not null;
            o.NodeRelay.SocketPath = relaySocket ?? o.NodeRelay.SocketPath;
        });
        return services.BuildServiceProvider();
    }

    /// <summary>One client: its balancer, and the time its picker last swapped (its source's subscriber runs right after the balancer's).</summary>
    private sealed class Side
    {
        private readonly SemaphoreSlim _swapped = new(0);
        private readonly List<double> _samples = [];
        private long _swappedAt;

        public Side(string name, ServiceProvider provider)
        {
            Name = name;
            Balancer = provider.GetRequiredService<ServiceRegistry>().GetBalancer("lat.default");
            Balancer.Source.Subscribe(_ =>
            {
                Volatile.Write(ref _swappedAt, Stopwatch.GetTimestamp());
                _swapped.Release();
            });
        }

        public string Name { get; }

        public ServiceBalancer Balancer { get; }

        public async Task<bool> WaitAsync(int expected, long committed)
        {
            while (Balancer.EligibleCount != expected)
            {
                if (!await _swapped.WaitAsync(TimeSpan.FromSeconds(10)))
                {
                    return false;
                }
            }
            _samples.Add(Stopwatch.GetElapsedTime(committed, Math.Max(committed, Volatile.Read(ref _swappedAt))).TotalMilliseconds);
            return true;
        }

        public double P(double q)
        {
            _samples.Sort();
            return _samples[Math.Min(_samples.Count - 1, (int)Math.Ceiling(q * _samples.Count) - 1)];
        }

        public string Summary() => $"p50 {P(0.5):0.000} ms, p90 {P(0.9):0.000} ms, p99 {P(0.99):0.000} ms, max {P(1):0.000} ms";
    }
}
