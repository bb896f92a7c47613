using System.Diagnostics;
using System.Text;
using ClientLb.Balancing;
using ClientLb.Kubernetes.Node;
using ClientLb.Kubernetes.Node.Protocol;
using ClientLb.Kubernetes.Sources;
using ClientLb.Registry;
using ClientLb.Sandbox;
using Google.Protobuf;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Options;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Kubernetes.Tests.Node;

/// <summary>
/// The SDK's node source against a scripted relay (what the agent would send, including what it should not) and the
/// sandbox as the source's own API: which side serves, and that the last known good endpoints stay across switches.
/// </summary>
public sealed class NodeSourceTests : IAsyncLifetime
{
    private static readonly ByteString ServiceJson = Json("""{"metadata":{"name":"pay","namespace":"default","resourceVersion":"5"},"spec":{"type":"ClusterIP","clusterIP":"10.96.0.9","ports":[{"name":"http","port":80,"targetPort":8080}]}}""");

    private readonly string _dir = Directory.CreateTempSubdirectory("clientlb-node-").FullName;
    private readonly FakeTimeProvider _time = new();
    private SandboxCluster _cluster = null!;

    private string Socket => Path.Combine(_dir, "relay.sock");

    public async Task InitializeAsync()
    {
        // The sandbox (the source's own API) has a pay service with one pod: its endpoint tells which side serves.
        _cluster = await SandboxCluster.StartAsync(new SandboxOptions { EnableDns = false, UseHttps = true });
        await _cluster.CreateDeploymentAsync("pay", 1);
        await _cluster.CreateServiceAsync("pay", "pay", 80, 8080);
        await _cluster.WaitForReadyEndpointsAsync("pay", 1);
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    private static ByteString Json(string json) => ByteString.CopyFrom(Encoding.UTF8.GetBytes(json));

    private static ByteString Slice(string name, params string[] addresses) => Json(new System.Text.Json.Nodes.JsonObject
    {
        ["metadata"] = new System.Text.Json.Nodes.JsonObject
        {
            ["name"] = name, ["namespace"] = "default", ["resourceVersion"] = "7",
            ["labels"] = new System.Text.Json.Nodes.JsonObject { ["kubernetes.io/service-name"] = "pay" },
        },
        ["addressType"] = "IPv4",
        ["ports"] = new System.Text.Json.Nodes.JsonArray(new System.Text.Json.Nodes.JsonObject { ["name"] = "http", ["port"] = 8080, ["protocol"] = "TCP" }),
        ["endpoints"] = new System.Text.Json.Nodes.JsonArray([.. addresses.Select(a => (System.Text.Json.Nodes.JsonNode)new System.Text.Json.Nodes.JsonObject
        {
            ["addresses"] = new System.Text.Json.Nodes.JsonArray(a),
            ["conditions"] = new System.Text.Json.Nodes.JsonObject { ["ready"] = true },
        })]),
    }.ToJsonString());

    private static WatchEvent SnapshotOf(params ByteString[] slices)
    {
        var snapshot = new Snapshot { Synced = true, ServiceJson = ServiceJson, ServicesVersion = "5", SlicesVersion = "7" };
        snapshot.SliceJson.AddRange(slices);
        return new WatchEvent { Version = 1, Snapshot = snapshot };
    }

    private (ServiceProvider Provider, ServiceBalancer Balancer) Client()
    {
        var services = new ServiceCollection();
        services.AddSingleton<TimeProvider>(_time);
        services.AddClientLbKubernetes(o =>
        {
            o.KubeconfigPath = _cluster.KubeconfigPath;
            o.AllowLoopbackEndpoints = true;
            o.NodeRelay.SocketPath = Socket;
        });
        ServiceProvider provider = services.BuildServiceProvider();
        return (provider, provider.GetRequiredService<ServiceRegistry>().GetBalancer("pay.default"));
    }

    private static string[] Addresses(ServiceBalancer balancer) => [.. balancer.Picker.Endpoints.Select(e => e.Endpoint.Host).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task The_relay_serves_and_a_failure_it_relays_keeps_its_endpoints_without_opening_an_own_watch()
    {
        var failed = new TaskCompletionSource();
        await using ScriptedRelay relay = await ScriptedRelay.StartAsync(Socket, async (request, stream, context) =>
        {
            Assert.Equal(("default", "pay"), (request.Namespace, request.Name));
            Assert.StartsWith("Bearer ", context.RequestHeaders.GetValue("authorization"), StringComparison.Ordinal);
            await stream.WriteAsync(SnapshotOf(Slice("pay-a", "10.1.0.1", "10.1.0.2")));
            var delta = new Delta { Synced = true };
            delta.UpsertedSliceJson.Add(Slice("pay-b", "10.1.0.3"));
            await stream.WriteAsync(new WatchEvent { Version = 2, Delta = delta });
            await stream.WriteAsync(new WatchEvent { Version = 3, Failure = new Failure { Message = "the agent's watch failed: 503" } });
            failed.SetResult();
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        });
        (ServiceProvider? provider, ServiceBalancer? balancer) = Client();
        await using ServiceProvider _ = provider;
        await failed.Task;
        await WaitAsync(() => balancer.Source.Status.LastError is KubernetesRelayedException);
        Assert.Equal("node", balancer.Source.Kind);
        Assert.False(((NodeEndpointSource)balancer.Source).UsingApi);
        Assert.Equal(["10.1.0.1", "10.1.0.2", "10.1.0.3"], Addresses(balancer));
        Assert.Contains("503", balancer.Source.Status.LastError!.Message, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_version_out_of_sequence_drops_the_stream_and_the_own_watch_serves_after_the_relays_last_endpoints()
    {
        await using ScriptedRelay relay = await ScriptedRelay.StartAsync(Socket, async (request, stream, context) =>
        {
            await stream.WriteAsync(SnapshotOf(Slice("pay-a", "10.1.0.1")));
            await stream.WriteAsync(new WatchEvent { Version = 3, Delta = new Delta { Synced = true, ServiceDeleted = true } });
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        });
        (ServiceProvider? provider, ServiceBalancer? balancer) = Client();
        await using ServiceProvider _ = provider;
        await WaitAsync(() => ((NodeEndpointSource)balancer.Source).UsingApi);
        // The gapped delta (the Service deleted) was never applied: the relay's endpoint or, once listed, the sandbox's pod.
        await WaitAsync(() => Addresses(balancer) is [var only] && only.StartsWith("127.244.", StringComparison.Ordinal));
    }

    [Fact]
    public async Task Without_a_socket_the_own_watch_serves_and_the_relay_takes_over_when_it_appears()
    {
        (ServiceProvider? provider, ServiceBalancer? balancer) = Client();
        await using ServiceProvider _ = provider;
        var source = (NodeEndpointSource)balancer.Source;
        await WaitAsync(() => source.UsingApi && balancer.EligibleCount == 1);
        Assert.StartsWith("127.244.", Addresses(balancer)[0], StringComparison.Ordinal);

        await using ScriptedRelay relay = await ScriptedRelay.StartAsync(Socket, async (request, stream, context) =>
        {
            await stream.WriteAsync(SnapshotOf(Slice("pay-a", "10.1.0.1", "10.1.0.2")));
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        });
        await WaitAsync(() =>
        {
            _time.Advance(TimeSpan.FromSeconds(1)); // the source's retry of the relay, on its clock
            return !source.UsingApi;
        });
        Assert.Equal(["10.1.0.1", "10.1.0.2"], Addresses(balancer));
        Assert.Null(source.Status.LastError);
    }

    [Fact]
    public async Task A_relay_that_accepts_the_call_but_sends_no_snapshot_is_left_after_the_snapshot_timeout()
    {
        var called = new TaskCompletionSource();
        await using ScriptedRelay relay = await ScriptedRelay.StartAsync(Socket, async (request, stream, context) =>
        {
            called.TrySetResult();
            await Task.Delay(Timeout.Infinite, context.CancellationToken);
        });
        (ServiceProvider? provider, ServiceBalancer? balancer) = Client();
        await using ServiceProvider _ = provider;
        var source = (NodeEndpointSource)balancer.Source;
        await called.Task;
        _time.Advance(TimeSpan.FromSeconds(4));
        Assert.False(source.UsingApi);
        _time.Advance(TimeSpan.FromSeconds(1));
        await WaitAsync(() => source.UsingApi && balancer.EligibleCount == 1);
        Assert.StartsWith("127.244.", Addresses(balancer)[0], StringComparison.Ordinal);
    }

    [Fact]
    public void Node_relay_options_are_validated_naming_the_option()
    {
        var options = new KubernetesSourceOptions();
        options.NodeRelay.SocketPath = " ";
        options.NodeRelay.MaxReconnectDelay = TimeSpan.FromMilliseconds(10);
        ValidateOptionsResult result = new KubernetesSourceOptionsValidator().Validate(null, options);
        Assert.Contains("KubernetesSourceOptions.NodeRelay.SocketPath must name the relay's Unix domain socket.", result.Failures!);
        Assert.Contains(result.Failures!, f => f.StartsWith("KubernetesSourceOptions.NodeRelay.MaxReconnectDelay", StringComparison.Ordinal));
    }

    private static async Task WaitAsync(Func<bool> condition)
    {
        var deadline = Stopwatch.StartNew();
        while (!condition())
        {
            Assert.True(deadline.Elapsed < TimeSpan.FromSeconds(30), "the condition did not hold within 30 s");
            await Task.Delay(10);
        }
    }
}
