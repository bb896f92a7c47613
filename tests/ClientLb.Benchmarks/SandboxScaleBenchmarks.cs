using System.Text.Json.Nodes;
using BenchmarkDotNet.Attributes;
using BenchmarkDotNet.Engines;
using ClientLb.Sandbox;

namespace ClientLb.Benchmarks;

/// <summary>
/// The sandbox at scale: one selectorless service with N endpoints in user-created EndpointSlices of 100.
/// Start = cluster up + service + all slices created; List = one full list of the service's slices over HTTP.
/// The 100-endpoint rows are the baseline for the 10,000-endpoint rows (docs/performance.md gives the ratios).
/// </summary>
[MemoryDiagnoser]
[SimpleJob(RunStrategy.ColdStart, launchCount: 1, warmupCount: 1, iterationCount: 5, id: "cold")]
public class SandboxScaleBenchmarks
{
    private SandboxCluster _cluster = null!;
    private HttpClient _http = null!;

    [Params(100, 10_000)]
    public int Endpoints { get; set; }

    public static async Task<SandboxCluster> StartWithEndpointsAsync(int endpoints)
    {
        SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { EnableDns = false, WatchHistorySize = 200 });
        await cluster.CreateAsync(JsonNode.Parse("""
            {"apiVersion":"v1","kind":"Service","metadata":{"name":"big","namespace":"default"},
             "spec":{"ports":[{"name":"http","port":80,"targetPort":8080}]}}
            """)!.AsObject());
        for (int slice = 0; slice * 100 < endpoints; slice++)
        {
            var list = new JsonArray();
            for (int i = slice * 100; i < Math.Min(endpoints, (slice + 1) * 100); i++)
            {
                list.Add(new JsonObject
                {
                    ["addresses"] = new JsonArray($"127.245.{i / 250}.{i % 250 + 1}"),
                    ["conditions"] = new JsonObject { ["ready"] = true },
                    ["nodeName"] = "sandbox-node-a",
                    ["zone"] = "zone-a",
                });
            }
            await cluster.CreateAsync(new JsonObject
            {
                ["apiVersion"] = "discovery.k8s.io/v1",
                ["kind"] = "EndpointSlice",
                ["metadata"] = new JsonObject
                {
                    ["name"] = $"big-{slice}",
                    ["namespace"] = "default",
                    ["labels"] = new JsonObject { ["kubernetes.io/service-name"] = "big" },
                },
                ["addressType"] = "IPv4",
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = 8080, ["protocol"] = "TCP" }),
                ["endpoints"] = list,
            });
        }
        return cluster;
    }

    [Benchmark]
    public async Task Start()
    {
        await using SandboxCluster cluster = await StartWithEndpointsAsync(Endpoints);
    }

    [GlobalSetup(Target = nameof(List))]
    public async Task SetupList()
    {
        _cluster = await StartWithEndpointsAsync(Endpoints);
        _http = _cluster.CreateHttpClient();
    }

    [Benchmark]
    public async Task<int> List()
    {
        byte[] body = await _http.GetByteArrayAsync("/apis/discovery.k8s.io/v1/namespaces/default/endpointslices?labelSelector=kubernetes.io%2Fservice-name%3Dbig");
        return body.Length;
    }

    [GlobalCleanup(Target = nameof(List))]
    public async Task Cleanup()
    {
        _http.Dispose();
        await _cluster.DisposeAsync();
    }
}
