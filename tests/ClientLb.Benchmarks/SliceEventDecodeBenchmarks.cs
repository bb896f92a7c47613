using System.Buffers;
using System.Globalization;
using System.Text;
using System.Text.Json;
using BenchmarkDotNet.Attributes;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Model;
using k8s;
using k8s.Models;

namespace ClientLb.Benchmarks;

/// <summary>
/// Decoding one watch event line of an EndpointSlice as a real API server sends it (uid, generation, timestamps, owner
/// reference, the last-change-trigger-time annotation, managedFields; each endpoint with node, zone and a targetRef
/// with uid), for 100 and 1,000 endpoints. Baseline: KubernetesClient's typed parse of the line
/// (<c>KubernetesJson.Deserialize&lt;Watcher&lt;V1EndpointSlice&gt;.WatchEvent&gt;</c> on the line as a string, as its
/// watcher reads it). Against it: ClientLb's decoder as it was (<c>Deserialize(ref Utf8JsonReader)</c>, which scans the
/// value before parsing it) and as it is (parsed from the span of the line's bytes), both into ClientLb's lean model.
/// </summary>
[MemoryDiagnoser]
[MedianColumn]
public class SliceEventDecodeBenchmarks
{
    private byte[] _utf8 = null!;
    private string _text = null!;

    [Params(100, 1000)]
    public int Endpoints { get; set; }

    [GlobalSetup]
    public void Setup()
    {
        var endpoints = new StringBuilder();
        for (int i = 0; i < Endpoints; i++)
        {
            endpoints.Append(i == 0 ? "" : ",").Append(CultureInfo.InvariantCulture, $$$"""
                {"addresses":["10.{{{i / 250}}}.{{{i % 250}}}.7"],"conditions":{"ready":true,"serving":true,"terminating":false},"nodeName":"node-{{{i % 40}}}","zone":"europe-west1-{{{"bcd"[i % 3]}}}","targetRef":{"kind":"Pod","namespace":"shop","name":"payments-7d9f8b6c5-{{{i:x5}}}","uid":"{{{Guid.NewGuid()}}}"}}
                """);
        }
        _text = """
            {"type":"MODIFIED","object":{"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":"payments-abcde","generateName":"payments-","namespace":"shop","uid":"@UID@","resourceVersion":"48213377","generation":912,"creationTimestamp":"2026-11-02T08:14:11Z","labels":{"endpointslice.kubernetes.io/managed-by":"endpointslice-controller.k8s.io","kubernetes.io/service-name":"payments","app":"payments"},"annotations":{"endpoints.kubernetes.io/last-change-trigger-time":"2026-12-06T12:01:07Z"},"ownerReferences":[{"apiVersion":"v1","kind":"Service","name":"payments","uid":"@UID@","controller":true,"blockOwnerDeletion":true}],"managedFields":[{"manager":"kube-controller-manager","operation":"Update","apiVersion":"discovery.k8s.io/v1","time":"2026-12-06T12:01:07Z","fieldsType":"FieldsV1","fieldsV1":{"f:addressType":{},"f:endpoints":{},"f:metadata":{"f:annotations":{".":{},"f:endpoints.kubernetes.io/last-change-trigger-time":{}},"f:generateName":{},"f:labels":{".":{},"f:app":{},"f:endpointslice.kubernetes.io/managed-by":{},"f:kubernetes.io/service-name":{}},"f:ownerReferences":{".":{},"k:{\"uid\":\"x\"}":{}}},"f:ports":{}}}]},"addressType":"IPv4","endpoints":[@ENDPOINTS@],"ports":[{"name":"http","port":8080,"protocol":"TCP","appProtocol":"kubernetes.io/h2c"}]}}
            """.ReplaceLineEndings("").Replace("@ENDPOINTS@", endpoints.ToString(), StringComparison.Ordinal).Replace("@UID@", Guid.NewGuid().ToString(), StringComparison.Ordinal);
        _utf8 = Encoding.UTF8.GetBytes(_text);
        if (KubernetesClientTyped() != Endpoints || ClientLbReaderScan() != Endpoints || ClientLbSpan() != Endpoints)
        {
            throw new InvalidOperationException("the decoders disagree");
        }
    }

    /// <summary>The line's size, printed once per parameter so the figures can be read per KB.</summary>
    public int Bytes => _utf8.Length;

    [Benchmark(Baseline = true)]
    public int KubernetesClientTyped() => KubernetesJson.Deserialize<Watcher<V1EndpointSlice>.WatchEvent>(_text).Object.Endpoints.Count;

    [Benchmark]
    public int ClientLbReaderScan()
    {
        var reader = new Utf8JsonReader(_utf8);
        return JsonSerializer.Deserialize(ref reader, KubernetesJsonContext.Default.WatchEventEndpointSlice)!.Object!.Endpoints!.Count;
    }

    [Benchmark]
    public int ClientLbSpan() => KubernetesApiClient.ParseEvent(new ReadOnlySequence<byte>(_utf8), KubernetesJsonContext.Default.WatchEventEndpointSlice, "bench").Object!.Endpoints!.Count;
}
