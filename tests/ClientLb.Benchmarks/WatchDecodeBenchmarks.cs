using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Model;

namespace ClientLb.Benchmarks;

/// <summary>
/// Reading a watch response: 100 events, each one 100-endpoint EndpointSlice on its own line. Baseline: a
/// <see cref="StreamReader"/> line (UTF-8 decoded to a string) parsed from the string (encoded back to UTF-8 inside the
/// parser), which is what the client did before; against it, the client's <see cref="WatchLines"/> (System.IO.Pipelines)
/// parsing each line from the bytes as received.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class WatchDecodeBenchmarks
{
    private const int Events = 100;
    private byte[] _response = null!;

    [GlobalSetup]
    public void Setup()
    {
        var text = new StringBuilder();
        for (int e = 0; e < Events; e++)
        {
            var slice = new EndpointSlice
            {
                Metadata = new ObjectMeta
                {
                    Name = $"big-{e:D4}", Namespace = "bench", ResourceVersion = (1000 + e).ToString(System.Globalization.CultureInfo.InvariantCulture),
                    Labels = new() { ["kubernetes.io/service-name"] = "big" }
                },
                AddressType = "IPv4",
                Ports = [new EndpointPort { Name = "http", Port = 8080, Protocol = "TCP" }],
                Endpoints = [.. Enumerable.Range(0, 100).Select(i => new Endpoint
                {
                    Address = $"10.{e}.0.{i + 1}",
                    Conditions = new EndpointConditions { Ready = true, Serving = true, Terminating = false },
                    NodeName = $"node-{i % 7}",
                    Zone = $"zone-{i % 3}",
                })],
            };
            text.Append(JsonSerializer.Serialize(new WatchEvent<EndpointSlice> { Type = WatchEventTypes.Modified, Object = slice }, KubernetesJsonContext.Default.WatchEventEndpointSlice)).Append('\n');
        }
        _response = Encoding.UTF8.GetBytes(text.ToString());
    }

    [Benchmark(Baseline = true)]
    public async Task<int> StreamReaderStrings()
    {
        int endpoints = 0;
        using var reader = new StreamReader(new MemoryStream(_response), Encoding.UTF8, detectEncodingFromByteOrderMarks: false);
        while (await reader.ReadLineAsync() is string line)
        {
            endpoints += KubernetesApiClient.ParseEvent(line, KubernetesJsonContext.Default.WatchEventEndpointSlice, "bench").Object!.Endpoints!.Count;
        }
        return endpoints;
    }

    [Benchmark]
    public async Task<int> PipeReaderLines()
    {
        int endpoints = 0;
        await foreach (WatchEvent<EndpointSlice> e in WatchLines.ReadAsync(new MemoryStream(_response), "bench",
            line => KubernetesApiClient.ParseEvent(line, KubernetesJsonContext.Default.WatchEventEndpointSlice, "bench"), CancellationToken.None))
        {
            endpoints += e.Object!.Endpoints!.Count;
        }
        return endpoints;
    }
}
