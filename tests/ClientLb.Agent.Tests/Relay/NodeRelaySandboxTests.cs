using System.Diagnostics;
using System.Text.Json.Nodes;
using ClientLb.Agent.Relay;
using ClientLb.Balancing;
using ClientLb.Kubernetes;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using ClientLb.Kubernetes.Node;
using ClientLb.Kubernetes.Node.Protocol;
using ClientLb.Kubernetes.Sources;
using ClientLb.Registry;
using ClientLb.Sandbox;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Agent.Tests.Relay;

/// <summary>
/// The node relay against the sandbox (RBAC on): the agent's relay on a Unix socket, and SDK clients in this process
/// (each its own DI container, registry and token) whose Kubernetes source finds the socket. Time that matters (the
/// SDK's retry of the relay) runs on a <see cref="FakeTimeProvider"/>.
/// </summary>
public sealed class NodeRelaySandboxTests : IAsyncLifetime
{
    private const int Clients = 200;
    private const string Service = "payment-service.finance";

    private const string Rbac = """
        apiVersion: v1
        kind: ServiceAccount
        metadata: { name: clientlb-agent, namespace: kube-system }
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRole
        metadata: { name: clientlb-agent }
        rules:
        - { apiGroups: [""], resources: [services], verbs: [list, watch] }
        - { apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch] }
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: ClusterRoleBinding
        metadata: { name: clientlb-agent }
        subjects: [{ kind: ServiceAccount, name: clientlb-agent, namespace: kube-system }]
        roleRef: { apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: clientlb-agent }
        ---
        apiVersion: v1
        kind: ServiceAccount
        metadata: { name: payment-client, namespace: finance }
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: Role
        metadata: { name: endpoint-reader, namespace: finance }
        rules:
        - { apiGroups: [""], resources: [services], verbs: [list, watch] }
        - { apiGroups: [discovery.k8s.io], resources: [endpointslices], verbs: [list, watch] }
        ---
        apiVersion: rbac.authorization.k8s.io/v1
        kind: RoleBinding
        metadata: { name: payment-client-reads-endpoints, namespace: finance }
        subjects: [{ kind: ServiceAccount, name: payment-client, namespace: finance }]
        roleRef: { apiGroup: rbac.authorization.k8s.io, kind: Role, name: endpoint-reader }
        ---
        apiVersion: v1
        kind: ServiceAccount
        metadata: { name: outsider, namespace: default }
        """;

    private const string AgentUser = "system:serviceaccount:kube-system:clientlb-agent";
    private const string ClientUser = "system:serviceaccount:finance:payment-client";

    private readonly string _dir = Directory.CreateTempSubdirectory("clientlb-relay-").FullName;
    private readonly FakeTimeProvider _time = new();
    private SandboxCluster _cluster = null!;
    private string _agentKubeconfig = null!;
    private string _clientKubeconfig = null!;
    private string _outsiderKubeconfig = null!;

    private string Socket => Path.Combine(_dir, "relay.sock");

    public async Task InitializeAsync()
    {
        _cluster = await SandboxCluster.StartAsync(new SandboxOptions { Authorization = SandboxAuthorization.Rbac, UseHttps = true, EnableDns = false, Namespaces = ["finance"] });
        await _cluster.ApplyManifestAsync(Rbac);
        await _cluster.CreateDeploymentAsync("payment", 3, 8080, "finance");
        await _cluster.CreateServiceAsync("payment-service", "payment", 80, 8080, "finance");
        await _cluster.WaitForReadyEndpointsAsync("payment-service", 3, "finance");
        _agentKubeconfig = await _cluster.WriteServiceAccountKubeconfigAsync("clientlb-agent", "kube-system");
        _clientKubeconfig = await _cluster.WriteServiceAccountKubeconfigAsync("payment-client", "finance");
        _outsiderKubeconfig = await _cluster.WriteServiceAccountKubeconfigAsync("outsider", "default");
    }

    public async Task DisposeAsync()
    {
        await _cluster.DisposeAsync();
        Directory.Delete(_dir, recursive: true);
    }

    [Fact]
    public async Task Two_hundred_clients_share_the_agents_one_watch_follow_a_scale_fall_back_when_it_dies_and_come_back()
    {
        NodeRelayServer relay = await StartRelayAsync();
        var clients = new List<SdkClient>();
        try
        {
            for (int i = 0; i < Clients; i++)
            {
                clients.Add(SdkClient.Start(_clientKubeconfig, Socket, _time));
            }
            await WaitAsync(() => clients.All(c => c.Balancer.EligibleCount == 3), "every client has the 3 payment pods");
            Assert.All(clients, c => Assert.False(c.Source.UsingApi));
            Assert.All(clients, c => Assert.Equal("node", c.Source.Kind));

            // One watch per resource from the agent, none from the clients (they never opened one).
            await WaitAsync(() => WatchesOf(AgentUser) is { Services: 1, Slices: 1 }, "the agent watches services and endpointslices once each");
            Assert.Equal(1, _cluster.Watches.Open[(AgentUser, "services")]);
            Assert.Equal(1, _cluster.Watches.Open[(AgentUser, "endpointslices.discovery.k8s.io")]);
            Assert.DoesNotContain(_cluster.Watches.Opened.Keys, k => k.User == ClientUser);
            Assert.Equal([(Service, Clients)], relay.Watched);

            await _cluster.ScaleDeploymentAsync("payment", 5, "finance");
            await WaitAsync(() => clients.All(c => c.Balancer.EligibleCount == 5), "the scale to 5 reaches every client's picker");
            Assert.DoesNotContain(_cluster.Watches.Opened.Keys, k => k.User == ClientUser);

            // The agent dies: every client keeps its 5 endpoints and opens its own watch within 5 s.
            var killed = Stopwatch.StartNew();
            await relay.DisposeAsync();
            await WaitAsync(() => clients.All(c => c.Source.UsingApi), "every client switched to its own API watch", TimeSpan.FromSeconds(5));
            Assert.True(killed.Elapsed < TimeSpan.FromSeconds(5), $"the switch took {killed.Elapsed}");
            Assert.All(clients, c => Assert.Equal(5, c.Balancer.EligibleCount));
            await WaitAsync(() => clients.All(c => c.Balancer.Source.Status.LastError is null), "every client's own watch listed the service");
            Assert.All(clients, c => Assert.Equal(5, c.Balancer.EligibleCount));
            await WaitAsync(() => WatchesOf(ClientUser) is { Services: Clients, Slices: Clients }, "each client watches on its own meanwhile");

            // A change while the agent is away reaches the clients through their own watches.
            await _cluster.ScaleDeploymentAsync("payment", 4, "finance");
            await WaitAsync(() => clients.All(c => c.Balancer.EligibleCount == 4), "the scale to 4 reaches every client through its own watch");

            // The agent returns: the clients' next retry (on their clock) finds it and their own watches stop.
            relay = await StartRelayAsync();
            // Their clock moves one second per second of waiting: past their retry delay, never so fast that the
            // snapshot timeout (5 s on the same clock) could expire before the restarted relay answered.
            var tick = Stopwatch.StartNew();
            await WaitAsync(() =>
            {
                if (tick.Elapsed >= TimeSpan.FromSeconds(1))
                {
                    _time.Advance(TimeSpan.FromSeconds(1));
                    tick.Restart();
                }
                return clients.All(c => !c.Source.UsingApi);
            }, "every client switched back to the relay");
            await WaitAsync(() => WatchesOf(ClientUser) is { Services: 0, Slices: 0 }, "the clients' own watches stopped");
            Assert.All(clients, c => Assert.Equal(4, c.Balancer.EligibleCount));
            await _cluster.ScaleDeploymentAsync("payment", 2, "finance");
            await WaitAsync(() => clients.All(c => c.Balancer.EligibleCount == 2), "the scale to 2 reaches every client through the relay again");
            Assert.Equal(1, _cluster.Watches.Open[(AgentUser, "endpointslices.discovery.k8s.io")]);
        }
        finally
        {
            await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
            await relay.DisposeAsync();
        }
    }

    [Fact]
    public async Task A_token_that_cannot_list_the_service_is_refused_by_the_relay_and_its_client_fails_on_its_own_watch_too()
    {
        await using NodeRelayServer relay = await StartRelayAsync();
        await using SdkClient outsider = SdkClient.Start(_outsiderKubeconfig, Socket, _time);
        await WaitAsync(() => outsider.Source.UsingApi && outsider.Balancer.Source.Status.LastError is not null, "the outsider is refused");
        Assert.Equal(0, outsider.Balancer.EligibleCount);
        // What the outsider heard from its own watch: the API's 403 for its own account (the relay told it nothing).
        Assert.Contains("forbidden", outsider.Balancer.Source.Status.LastError!.Message, StringComparison.OrdinalIgnoreCase);
        Assert.DoesNotContain(relay.Watched, w => w.References > 0);

        using var connection = new NodeRelayConnection(Socket, _ => ValueTask.FromResult<string?>(KubernetesConnection.Load(_outsiderKubeconfig).AccessToken));
        Grpc.Core.RpcException denied = await Assert.ThrowsAsync<Grpc.Core.RpcException>(async () =>
        {
            using Grpc.Core.AsyncServerStreamingCall<WatchEvent> call = connection.Client.Watch(new Kubernetes.Node.Protocol.WatchRequest { Namespace = "finance", Name = "payment-service" });
            await call.ResponseStream.MoveNext(CancellationToken.None);
        });
        Assert.Equal(Grpc.Core.StatusCode.PermissionDenied, denied.StatusCode);
        Assert.Contains("may not list Services and EndpointSlices of finance/payment-service", denied.Status.Detail);

        using var anonymous = new NodeRelayConnection(Socket, _ => ValueTask.FromResult<string?>(null));
        Grpc.Core.RpcException unauthenticated = await Assert.ThrowsAsync<Grpc.Core.RpcException>(async () =>
        {
            using Grpc.Core.AsyncServerStreamingCall<WatchEvent> call = anonymous.Client.Watch(new Kubernetes.Node.Protocol.WatchRequest { Namespace = "finance", Name = "payment-service" });
            await call.ResponseStream.MoveNext(CancellationToken.None);
        });
        Assert.Equal(Grpc.Core.StatusCode.Unauthenticated, unauthenticated.StatusCode);
    }

    [Fact]
    public async Task A_revoked_binding_ends_the_streams_at_the_next_recheck_and_the_last_client_leaving_stops_the_agents_watch()
    {
        await using NodeRelayServer relay = await StartRelayAsync();
        var clients = new List<SdkClient>();
        for (int i = 0; i < 3; i++)
        {
            clients.Add(SdkClient.Start(_clientKubeconfig, Socket, _time));
        }
        await WaitAsync(() => clients.All(c => c.Balancer.EligibleCount == 3), "every client has the 3 payment pods");

        // List (diagnostics): the one Service followed, by 3 streams.
        using var connection = new NodeRelayConnection(Socket, _ => ValueTask.FromResult<string?>(KubernetesConnection.Load(_clientKubeconfig).AccessToken));
        Kubernetes.Node.Protocol.ListResponse list = await connection.Client.ListAsync(new Kubernetes.Node.Protocol.ListRequest());
        Kubernetes.Node.Protocol.WatchedService watched = Assert.Single(list.Services);
        Assert.Equal(("finance", "payment-service", 3, true, ""), (watched.Namespace, watched.Name, watched.Streams, watched.Synced, watched.Error));
        Assert.True(watched.EndpointSlices >= 1);

        await _cluster.DeleteAsync("rbac.authorization.k8s.io/v1", "RoleBinding", "payment-client-reads-endpoints", "finance");
        // Within the cached decision nothing changes; past it and the re-check interval every stream is refused.
        _time.Advance(TimeSpan.FromSeconds(30));
        Assert.All(clients, c => Assert.False(c.Source.UsingApi));
        _time.Advance(TimeSpan.FromSeconds(31));
        await WaitAsync(() => clients.All(c => c.Source.UsingApi), "every stream ended on the re-check");
        // Their own watches are refused too (403): they keep serving the last known good endpoints.
        await WaitAsync(() => clients.All(c => c.Balancer.Source.Status.LastError is not null), "the clients' own watches fail");
        Assert.All(clients, c => Assert.Equal(3, c.Balancer.EligibleCount));
        Assert.All(clients, c => Assert.Contains("forbidden", c.Balancer.Source.Status.LastError!.Message, StringComparison.OrdinalIgnoreCase));

        await Task.WhenAll(clients.Select(c => c.DisposeAsync().AsTask()));
        await WaitAsync(() => relay.Watched.Count == 0, "the relay released the Service");
        await WaitAsync(() => WatchesOf(AgentUser) is { Services: 0, Slices: 0 }, "the agent's watches of it stopped");
    }

    [Fact]
    public async Task The_agents_own_api_failure_is_relayed_as_stale_last_known_good_and_its_recovery_clears_it_without_a_change()
    {
        await using NodeRelayServer relay = await StartRelayAsync();
        await using SdkClient client = SdkClient.Start(_clientKubeconfig, Socket, _time);
        await WaitAsync(() => client.Balancer.EligibleCount == 3, "the client has the 3 payment pods");
        // Both watches open on the server first: one still on its way when they are dropped would open afterwards and meet
        // no fault at all.
        await WaitAsync(() => WatchesOf(AgentUser) is { Services: 1, Slices: 1 }, "the agent's watches open");

        // The agent's watches are cut and their reconnects refused a few times; then they resume (no re-list, no change).
        _cluster.FailNextRequests(4, 500);
        _cluster.DropWatches();
        await WaitAsync(() => client.Balancer.Source.Status.LastError is KubernetesRelayedException, "the agent's failure reaches the client");
        Assert.False(client.Source.UsingApi, "the relay is up: the client stays on it");
        Assert.Equal(3, client.Balancer.EligibleCount);

        await WaitAsync(() =>
        {
            _time.Advance(TimeSpan.FromSeconds(1)); // the agent's watch backoff and healthy period, on its clock
            return client.Balancer.Source.Status.LastError is null;
        }, "the agent's recovery clears the client's error");
        Assert.False(client.Source.UsingApi);
        Assert.Equal(3, client.Balancer.EligibleCount);
    }

    [Fact]
    public async Task One_client_follows_150_services_through_the_relay_past_the_default_http2_stream_limit()
    {
        const int count = 150;
        for (int i = 0; i < count; i++)
        {
            await _cluster.CreateAsync(new JsonObject
            {
                ["apiVersion"] = "v1", ["kind"] = "Service",
                ["metadata"] = new JsonObject { ["name"] = $"svc-{i}", ["namespace"] = "finance" },
                ["spec"] = new JsonObject { ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = 80, ["targetPort"] = 8080 }) },
            });
            await _cluster.CreateAsync(new JsonObject
            {
                ["apiVersion"] = "discovery.k8s.io/v1", ["kind"] = "EndpointSlice",
                ["metadata"] = new JsonObject
                {
                    ["name"] = $"svc-{i}-1", ["namespace"] = "finance",
                    ["labels"] = new JsonObject { ["kubernetes.io/service-name"] = $"svc-{i}" },
                },
                ["addressType"] = "IPv4",
                ["ports"] = new JsonArray(new JsonObject { ["name"] = "http", ["port"] = 8080, ["protocol"] = "TCP" }),
                ["endpoints"] = new JsonArray(new JsonObject
                {
                    ["addresses"] = new JsonArray($"127.247.{i}.1"),
                    ["conditions"] = new JsonObject { ["ready"] = true },
                }),
            });
        }
        await using NodeRelayServer relay = await StartRelayAsync();
        await using SdkClient client = SdkClient.Start(_clientKubeconfig, Socket, _time);
        ServiceBalancer[] balancers = [.. Enumerable.Range(0, count).Select(i => client.Registry.GetBalancer($"svc-{i}.finance"))];
        await WaitAsync(() => balancers.All(b => b.EligibleCount == 1), "every service has its endpoint");
        Assert.All(balancers, b => Assert.False(((NodeEndpointSource)b.Source).UsingApi));
        Assert.DoesNotContain(_cluster.Watches.Opened.Keys, k => k.User == ClientUser);
    }

    private async Task<NodeRelayServer> StartRelayAsync()
    {
        k8s.KubernetesClientConfiguration config = KubernetesConnection.Load(_agentKubeconfig);
        return await NodeRelayServer.StartAsync(KubernetesApiClient.FromConfiguration(config), new TokenListAuthorizer(config, timeProvider: _time), new NodeRelayServerOptions { SocketPath = Socket }, timeProvider: _time);
    }

    private (int Services, int Slices) WatchesOf(string user)
    {
        IReadOnlyDictionary<(string User, string Resource), int> open = _cluster.Watches.Open;
        return (open.GetValueOrDefault((user, "services")), open.GetValueOrDefault((user, "endpointslices.discovery.k8s.io")));
    }

    /// <summary>Polls <paramref name="condition"/> until it holds (a deadline in real time, for a stuck test only).</summary>
    private static async Task WaitAsync(Func<bool> condition, string what, TimeSpan? within = null)
    {
        var deadline = Stopwatch.StartNew();
        TimeSpan limit = within ?? TimeSpan.FromSeconds(60);
        while (!condition())
        {
            Assert.True(deadline.Elapsed < limit, $"not within {limit}: {what}");
            await Task.Delay(20);
        }
    }

    /// <summary>One SDK client: its own container, registry and token, the relay's socket from its options.</summary>
    private sealed class SdkClient : IAsyncDisposable
    {
        private readonly ServiceProvider _services;

        private SdkClient(ServiceProvider services, ServiceBalancer balancer)
        {
            _services = services;
            Balancer = balancer;
        }

        public ServiceRegistry Registry => _services.GetRequiredService<ServiceRegistry>();

        public ServiceBalancer Balancer { get; }

        public NodeEndpointSource Source => (NodeEndpointSource)Balancer.Source;

        public static SdkClient Start(string kubeconfig, string socket, TimeProvider time)
        {
            var services = new ServiceCollection();
            services.AddSingleton(time);
            services.AddClientLbKubernetes(o =>
            {
                o.KubeconfigPath = kubeconfig;
                o.NodeRelay.SocketPath = socket;
            });
            ServiceProvider provider = services.BuildServiceProvider();
            ServiceBalancer balancer = provider.GetRequiredService<ServiceRegistry>().GetBalancer(Service);
            return new SdkClient(provider, balancer);
        }

        public ValueTask DisposeAsync() => _services.DisposeAsync();
    }
}
