using System.Text.Json.Nodes;
using System.Threading.Channels;
using ClientLb.Agent.Controller;
using ClientLb.Agent.Model;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Config;
using ClientLb.Sandbox;

namespace ClientLb.Agent.Tests.Watch;

/// <summary>
/// <see cref="KubernetesAgentController"/> against the real sandbox API server, the agent in dry-run mode (no root).
/// The sandbox allocates cluster IPs from 127.96.0.0/16; node mode rejects such VIPs (sidecar mode accepts them, see
/// <see cref="ControllerSandboxNetnsTests"/>), so these tests check what the controller sends (<see cref="AgentBatch"/>)
/// and that node mode names the sandbox's VIP and the reason when rejecting it.
/// </summary>
public sealed class ControllerSandboxTests : IAsyncLifetime
{
    private const string Manifest = """
        apiVersion: v1
        kind: Service
        metadata: { name: web, namespace: default }
        spec:
          sessionAffinity: ClientIP
          sessionAffinityConfig: { clientIP: { timeoutSeconds: 600 } }
          ports:
          - { name: http, port: 80, protocol: TCP }
          - { name: dns, port: 53, protocol: UDP }
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: web-a, namespace: default, labels: { kubernetes.io/service-name: web } }
        addressType: IPv4
        ports:
        - { name: http, port: 8080, protocol: TCP }
        - { name: dns, port: 5353, protocol: UDP }
        endpoints:
        - { addresses: [10.231.0.11], conditions: { ready: true }, zone: zone-a, nodeName: node-1 }
        - { addresses: [10.231.0.12], conditions: { ready: false, serving: true, terminating: true }, zone: zone-b, nodeName: node-2 }
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: web-b, namespace: default, labels: { kubernetes.io/service-name: web } }
        addressType: IPv4
        ports:
        - { name: http, port: 8080, protocol: TCP }
        endpoints:
        - { addresses: [10.231.0.13], conditions: { ready: true } }
        ---
        apiVersion: v1
        kind: Service
        metadata: { name: api, namespace: shop }
        spec:
          ports:
          - { port: 443 }
        ---
        apiVersion: discovery.k8s.io/v1
        kind: EndpointSlice
        metadata: { name: api-1, namespace: shop, labels: { kubernetes.io/service-name: api } }
        addressType: IPv4
        ports:
        - { port: 8443 }
        endpoints:
        - { addresses: [10.231.0.21], conditions: { ready: true } }
        ---
        apiVersion: v1
        kind: Service
        metadata: { name: db, namespace: shop }
        spec:
          clusterIP: None
          ports:
          - { port: 5432 }
        """;

    private SandboxCluster _cluster = null!;
    private KubernetesApiClient _api = null!;

    public async Task InitializeAsync()
    {
        _cluster = await SandboxCluster.StartAsync(new SandboxOptions { Namespaces = ["shop"] });
        await _cluster.ApplyManifestAsync(Manifest);
        _api = KubernetesApiClient.FromConfiguration(KubernetesConnection.TryResolve(
            new Kubernetes.KubernetesSourceOptions { KubeconfigPath = _cluster.KubeconfigPath, Mode = Kubernetes.KubernetesConfigMode.Kubeconfig }, out _)!);
    }

    public async Task DisposeAsync()
    {
        _api.Dispose();
        await _cluster.DisposeAsync();
    }

    [Fact]
    public async Task Node_mode_syncs_every_service_then_applies_only_the_changed_one()
    {
        var output = new StringWriter();
        using var agent = new NftablesAgent(new NftablesAgentOptions { Mode = AgentMode.Node, DryRun = true, DryRunOutput = output });
        var batches = Channel.CreateUnbounded<AgentBatch>();
        var controller = new KubernetesAgentController(_api, agent, new KubernetesAgentControllerOptions { OnBatch = b => batches.Writer.TryWrite(b) });
        using var stop = new CancellationTokenSource(TimeSpan.FromMinutes(1));
        Task run = controller.RunAsync(stop.Token);

        AgentBatch first = await batches.Reader.ReadAsync(stop.Token);
        Assert.True(first.Full);
        string webVip = await ClusterIpAsync("web", "default");
        string apiVip = await ClusterIpAsync("api", "shop");
        Dictionary<string, ServiceState> sent = first.Upserts.ToDictionary(s => s.Key);
        Assert.DoesNotContain("shop/db", sent.Keys);   // headless

        ServiceState web = sent["default/web"];
        Assert.Equal([webVip], web.ClusterIPs.ToArray());
        Assert.Equal(600, web.ClientIPAffinityTimeoutSeconds);
        Assert.Equal(2, web.Ports.Length);
        ServicePortState http = web.Ports.Single(p => p.Name == "http");
        Assert.Equal((ServiceProtocol.Tcp, 80), (http.Protocol, http.Port));
        Assert.Equal(["10.231.0.11:8080", "10.231.0.12:8080", "10.231.0.13:8080"], http.Endpoints.Select(e => $"{e.Host}:{e.Port}"));
        Assert.True(http.Endpoints[0].Conditions.Ready);
        Assert.Equal(("zone-a", "node-1"), (http.Endpoints[0].Zone, http.Endpoints[0].NodeName));
        Assert.False(http.Endpoints[1].Conditions.Ready);
        Assert.True(http.Endpoints[1].Conditions.Serving);
        Assert.True(http.Endpoints[1].Conditions.Terminating);
        ServicePortState dns = web.Ports.Single(p => p.Name == "dns");
        Assert.Equal((ServiceProtocol.Udp, 53), (dns.Protocol, dns.Port));
        Assert.Equal(["10.231.0.11:5353", "10.231.0.12:5353"], dns.Endpoints.Select(e => $"{e.Host}:{e.Port}")); // web-b has no dns port

        ServiceState api = sent["shop/api"];
        Assert.Equal([apiVip], api.ClusterIPs.ToArray());
        Assert.Null(api.ClientIPAffinityTimeoutSeconds);
        ServicePortState https = Assert.Single(api.Ports);
        Assert.Equal((null, ServiceProtocol.Tcp, 443), (https.Name, https.Protocol, https.Port));
        Assert.Equal(["10.231.0.21:8443"], https.Endpoints.Select(e => $"{e.Host}:{e.Port}"));

        // The sandbox's VIPs are loopback addresses: node mode rejects them by name, programming nothing for them.
        Assert.Contains(first.Result.Rejected, r => r.Service == "default/web" && r.Reason == $"the cluster IP {webVip} is a loopback address (127.0.0.0/8 VIPs are accepted in sidecar mode only)");
        Assert.Contains("add table ip clientlb", output.ToString(), StringComparison.Ordinal);

        // One slice changes: only its service is applied.
        await _cluster.ApplyManifestAsync("""
            apiVersion: discovery.k8s.io/v1
            kind: EndpointSlice
            metadata: { name: web-b, namespace: default, labels: { kubernetes.io/service-name: web } }
            addressType: IPv4
            ports:
            - { name: http, port: 8080, protocol: TCP }
            endpoints:
            - { addresses: [10.231.0.13], conditions: { ready: true } }
            - { addresses: [10.231.0.14], conditions: { ready: true } }
            """);
        AgentBatch change = await batches.Reader.ReadAsync(stop.Token);
        Assert.False(change.Full);
        Assert.Equal(["default/web"], change.Upserts.Select(s => s.Key));
        Assert.Empty(change.Removed);
        Assert.Equal(["10.231.0.11:8080", "10.231.0.12:8080", "10.231.0.13:8080", "10.231.0.14:8080"],
            change.Upserts[0].Ports.Single(p => p.Name == "http").Endpoints.Select(e => $"{e.Host}:{e.Port}"));
        Assert.Equal(sent["default/web"].Ports.Single(p => p.Name == "dns"), change.Upserts[0].Ports.Single(p => p.Name == "dns"));
        // The change's way from the watch to the kernel is measured (network programming latency).
        var metrics = new StringWriter();
        agent.Metrics.WritePrometheus(metrics);
        Assert.Contains("clientlb_agent_network_programming_duration_seconds_count 1\n", metrics.ToString(), StringComparison.Ordinal);

        // A deleted service is removed by key.
        await _cluster.DeleteAsync("v1", "Service", "api", "shop");
        AgentBatch removal = await batches.Reader.ReadAsync(stop.Token);
        Assert.Empty(removal.Upserts);
        Assert.Equal(["shop/api"], removal.Removed);
        Assert.DoesNotContain("shop/api", controller.Programmed.Keys);

        await stop.CancelAsync();
        await run;
    }

    [Fact]
    public async Task Sidecar_selection_sends_only_the_listed_services()
    {
        using var agent = new NftablesAgent(new NftablesAgentOptions { DryRun = true, DryRunOutput = TextWriter.Null });
        var controller = new KubernetesAgentController(_api, agent, new KubernetesAgentControllerOptions { Services = ["shop/api"] });
        AgentBatch batch = await controller.SyncOnceAsync();
        Assert.True(batch.Full);
        ServiceState api = Assert.Single(batch.Upserts);
        Assert.Equal("shop/api", api.Key);
        Assert.Equal(["10.231.0.21:8443"], api.Ports.Single().Endpoints.Select(e => $"{e.Host}:{e.Port}"));
        Assert.Equal(["shop/api"], controller.Programmed.Keys);
        Assert.Empty(batch.Result.Rejected); // sidecar mode accepts the sandbox's 127.96/16 VIP
    }

    [Fact]
    public void Options_errors_name_the_option()
    {
        using var agent = new NftablesAgent(new NftablesAgentOptions { DryRun = true, DryRunOutput = TextWriter.Null });
        ArgumentException bad = Assert.Throws<ArgumentException>(() => new KubernetesAgentController(_api, agent, new KubernetesAgentControllerOptions { Services = ["no-slash"] }));
        Assert.Equal("Services", bad.ParamName);
        ArgumentException both = Assert.Throws<ArgumentException>(() => new KubernetesAgentController(_api, agent, new KubernetesAgentControllerOptions { Services = ["a/b"], Namespace = "a" }));
        Assert.Equal("Services", both.ParamName);
        ArgumentException ns = Assert.Throws<ArgumentException>(() => new KubernetesAgentController(_api, agent, new KubernetesAgentControllerOptions { Namespace = "Bad_NS" }));
        Assert.Equal("Namespace", ns.ParamName);
    }

    [Fact]
    public void ExternalName_and_headless_services_are_skipped_with_a_reason()
    {
        var warnings = new List<string>();
        var external = new Kubernetes.Model.Service { Metadata = new() { Name = "ext", Namespace = "shop" }, Spec = new() { Type = "ExternalName", ExternalName = "example.invalid" } };
        Assert.Null(ServiceStateMapper.Map(Services.Slices(external), out string? reason, warnings));
        Assert.Contains("ExternalName", reason, StringComparison.Ordinal);
        var headless = new Kubernetes.Model.Service { Metadata = new() { Name = "db", Namespace = "shop" }, Spec = new() { ClusterIP = "None", ClusterIPs = ["None"] } };
        Assert.Null(ServiceStateMapper.Map(Services.Slices(headless), out reason, warnings));
        Assert.Contains("headless", reason, StringComparison.Ordinal);
        var sctpAndBad = new Kubernetes.Model.Service
        {
            Metadata = new() { Name = "s", Namespace = "shop" },
            Spec = new() { ClusterIP = "10.96.0.9", SessionAffinity = "ClientIP", Ports = [new() { Name = "a", Port = 1, Protocol = "SCTP" }, new() { Name = "b", Port = 2, Protocol = "QUIC" }] },
        };
        ServiceState state = ServiceStateMapper.Map(Services.Slices(sctpAndBad), out reason, warnings)!;
        Assert.Null(reason);
        Assert.Equal(ClientLb.Kubernetes.Slices.KubernetesServiceInfo.DefaultSessionAffinityTimeoutSeconds, state.ClientIPAffinityTimeoutSeconds);
        Assert.Equal(["10.96.0.9"], state.ClusterIPs.ToArray());
        Assert.Equal(ServiceProtocol.Sctp, Assert.Single(state.Ports).Protocol);
        Assert.Contains(warnings, w => w.Contains("QUIC", StringComparison.Ordinal));
    }

    private async Task<string> ClusterIpAsync(string name, string ns)
    {
        JsonObject service = (await _cluster.GetAsync("v1", "Service", name, ns))!;
        return service["spec"]!["clusterIP"]!.GetValue<string>();
    }
}
