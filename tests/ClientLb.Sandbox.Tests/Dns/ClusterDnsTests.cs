using System.Diagnostics;
using System.Net;
using ClientLb.Dns.Protocol;
using ClientLb.Sandbox.Dns;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Sandbox.Tests.Dns;

/// <summary>The sandbox's cluster DNS answered for real: by dig (Debian's dnsutils), as a pod's resolver would ask CoreDNS.</summary>
public sealed class ClusterDnsTests : IAsyncLifetime
{
    private SandboxCluster _cluster = null!;

    public async Task InitializeAsync()
    {
        _cluster = await SandboxCluster.StartAsync();
        await _cluster.CreateDeploymentAsync("web", 3);
        await _cluster.CreateServiceAsync("web", "web", port: 80, targetPort: 8080);
        await _cluster.CreateServiceAsync("web-headless", "web", port: 80, targetPort: 8080, headless: true);
        await _cluster.WaitForReadyEndpointsAsync("web-headless", 3);
    }

    public async Task DisposeAsync() => await _cluster.DisposeAsync();

    private IPEndPoint Dns => _cluster.DnsEndPoint!;

    private async Task<string> DigAsync(params string[] args)
    {
        var start = new ProcessStartInfo("dig") { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (string arg in (string[])[$"@{Dns.Address}", "-p", Dns.Port.ToString(), "+tries=1", "+time=2", .. args])
        {
            start.ArgumentList.Add(arg);
        }
        Process process;
        try
        {
            process = Process.Start(start)!;
        }
        catch (System.ComponentModel.Win32Exception)
        {
            throw new InvalidOperationException("dig is not installed: the cluster DNS tests query it as a pod would. Install Debian's dnsutils (test.sh does).");
        }
        using (process)
        {
            string output = await process.StandardOutput.ReadToEndAsync();
            await process.WaitForExitAsync();
            return output;
        }
    }

    private string[] PodIps() => [.. _cluster.GetPods("app=web").Select(p => p.IP!).Order()];

    [Fact]
    public async Task A_record_of_a_cluster_ip_service_is_its_virtual_ip()
    {
        string answer = await DigAsync("+short", "web.default.svc.cluster.local", "A");
        string clusterIp = (await _cluster.GetAsync("v1", "Service", "web"))!["spec"]!["clusterIP"]!.GetValue<string>();
        Assert.Equal(clusterIp, answer.Trim());
        Assert.StartsWith("127.96.", clusterIp);
    }

    [Fact]
    public async Task A_records_of_a_headless_service_are_the_ready_pods()
    {
        string answer = await DigAsync("+short", "web-headless.default.svc.cluster.local", "A");
        Assert.Equal(PodIps(), answer.Split('\n', StringSplitOptions.RemoveEmptyEntries).Order());

        string pod = _cluster.GetPods("app=web")[0].Name;
        await _cluster.SetPodReadyAsync(pod, false);
        await _cluster.WaitForReadyEndpointsAsync("web-headless", 2);
        answer = await DigAsync("+short", "web-headless.default.svc.cluster.local", "A");
        Assert.Equal(2, answer.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task Srv_of_a_named_port_lists_every_pod_with_its_target_port()
    {
        string answer = await DigAsync("+short", "_http._tcp.web-headless.default.svc.cluster.local", "SRV");
        string[] lines = answer.Split('\n', StringSplitOptions.RemoveEmptyEntries);
        Assert.Equal(3, lines.Length);
        Assert.All(lines, line =>
        {
            string[] fields = line.Split(' ');
            Assert.Equal("0", fields[0]);
            Assert.Equal("8080", fields[2]);
            Assert.EndsWith(".web-headless.default.svc.cluster.local.", fields[3]);
        });

        string clusterSrv = await DigAsync("+short", "_http._tcp.web.default.svc.cluster.local", "SRV");
        Assert.Equal("0 100 80 web.default.svc.cluster.local.", clusterSrv.Trim());
    }

    [Fact]
    public async Task Unknown_names_are_nxdomain_with_the_soa_and_outside_names_are_refused()
    {
        string missing = await DigAsync("nope.default.svc.cluster.local", "A");
        Assert.Contains("status: NXDOMAIN", missing);
        Assert.Contains("SOA", missing);
        Assert.Contains("flags: qr aa", missing);

        string noData = await DigAsync("web.default.svc.cluster.local", "AAAA");
        Assert.Contains("status: NOERROR", noData);
        Assert.Contains("ANSWER: 0", noData);

        string outside = await DigAsync("example.com", "A");
        Assert.Contains("status: REFUSED", outside);
    }

    [Fact]
    public async Task A_large_answer_is_truncated_over_udp_and_complete_over_tcp()
    {
        await _cluster.CreateDeploymentAsync("big", 60);
        await _cluster.CreateServiceAsync("big", "big", headless: true);
        await _cluster.WaitForReadyEndpointsAsync("big", 60);

        string udp = await DigAsync("+ignore", "+noedns", "big.default.svc.cluster.local", "A");
        Assert.Contains("flags: qr aa tc", udp);
        string tcp = await DigAsync("+tcp", "+short", "big.default.svc.cluster.local", "A");
        Assert.Equal(60, tcp.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task Answers_carry_the_configured_ttl_and_follow_scaling()
    {
        string answer = await DigAsync("+noall", "+answer", "web-headless.default.svc.cluster.local", "A");
        Assert.All(answer.Split('\n', StringSplitOptions.RemoveEmptyEntries), line => Assert.Contains("\t5\tIN\tA\t", line.Replace(' ', '\t').Replace("\t\t", "\t")));

        await _cluster.ScaleDeploymentAsync("web", 5);
        await _cluster.WaitForReadyEndpointsAsync("web-headless", 5);
        string scaled = await DigAsync("+short", "web-headless.default.svc.cluster.local", "A");
        Assert.Equal(5, scaled.Split('\n', StringSplitOptions.RemoveEmptyEntries).Length);
    }

    [Fact]
    public async Task Garbage_over_udp_gets_formerr_when_the_id_is_readable()
    {
        using var udp = new System.Net.Sockets.UdpClient(new IPEndPoint(IPAddress.Loopback, 0));
        // A header claiming one question, then bytes that are not a name.
        byte[] garbage = [0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0xC0, 0xFF];
        await udp.SendAsync(garbage, Dns);
        System.Net.Sockets.UdpReceiveResult reply = await udp.ReceiveAsync().WaitAsync(TimeSpan.FromSeconds(5));
        DnsMessage message = DnsMessage.Decode(reply.Buffer);
        Assert.Equal(0x1234, message.Id);
        Assert.Equal(DnsResponseCode.FormErr, message.ResponseCode);
    }

    [Fact]
    public void A_query_with_two_questions_gets_formerr()
    {
        var resolver = new ClusterDnsResolver(_cluster.Store, "cluster.local", 5);
        DnsMessage twoQuestions = DnsMessage.CreateQuery(7, new DnsQuestion("web.default.svc.cluster.local.", DnsRecordType.A)) with
        {
            Questions = [new DnsQuestion("a.cluster.local.", DnsRecordType.A), new DnsQuestion("b.cluster.local.", DnsRecordType.A)],
        };
        Assert.Equal(DnsResponseCode.FormErr, resolver.Answer(twoQuestions).ResponseCode);
    }
}

/// <summary>The ClientLb DNS source against the sandbox's cluster DNS: the same path a pod's SDK takes on a real cluster.</summary>
public sealed class ClusterDnsSourceTests
{
    [Fact]
    public async Task The_dns_source_follows_a_headless_service_and_its_srv_ports()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await cluster.CreateDeploymentAsync("api", 2);
        await cluster.CreateServiceAsync("api", "api", port: 80, targetPort: 8080, headless: true);
        await cluster.WaitForReadyEndpointsAsync("api", 2);

        var services = new Microsoft.Extensions.DependencyInjection.ServiceCollection();
        Microsoft.Extensions.DependencyInjection.DnsServiceCollectionExtensions.AddClientLbDns(services, o =>
        {
            o.Servers = [cluster.DnsEndPoint!.ToString()];
            o.ResolvConfPath = null;
            o.AddressFamilies = ClientLb.Dns.Configuration.DnsAddressFamilies.IPv4;
            o.AllowLoopbackEndpoints = true; // sandbox pods are 127.244.x.y servers
        });
        await using ServiceProvider provider = Microsoft.Extensions.DependencyInjection.ServiceCollectionContainerBuilderExtensions.BuildServiceProvider(services);
        var registry = (ClientLb.Registry.ServiceRegistry)provider.GetService(typeof(ClientLb.Registry.ServiceRegistry))!;

        ClientLb.Balancing.ServiceBalancer srv = registry.GetBalancer("api.default:http");
        await srv.EnsureReadyAsync(TimeSpan.FromSeconds(10), default);
        string[] pods = [.. cluster.GetPods("app=api").Select(p => $"{p.IP}:8080").Order()];
        Assert.Equal(pods, srv.Picker.Endpoints.Select(e => e.Endpoint.Authority).Order());
        Assert.Equal("dns", srv.Source.Current!.SourceKind);

        // A plain HttpClient call through the balancer reaches the pods by their names.
        using var client = new HttpClient(new ClientLb.Http.ClientLbHttpHandler(registry)) { BaseAddress = new Uri("http://api.default:8080") };
        var names = new HashSet<string>();
        for (int i = 0; i < 4; i++)
        {
            names.Add(await client.GetStringAsync("/"));
        }
        Assert.Equal(2, names.Count);
    }
}
