using System.Net;
using ClientLb.Dns.Client;
using ClientLb.Dns.Configuration;
using ClientLb.Dns.Protocol;
using ClientLb.Dns.Resolution;
using ClientLb.Dns.Source;
using ClientLb.Dns.Tests.Infrastructure;
using ClientLb.Sources;
using ClientLb.Testing;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Dns.Tests.Source;

/// <summary>
/// Issue 15 (defects 2-5): answers a broken or hostile DNS server sends. Each bad record is dropped and named, the rest
/// served; nothing valid left keeps the last known good; SRV fan-out and error messages are bounded; failures say what
/// happened. Real dnsmasq where it can produce the case, else a scripted UDP server on loopback.
/// </summary>
public sealed class HostileAnswerTests
{
    private const string Zone = "prod.svc.cluster.local";

    /// <summary>How long a test waits for something that happens at once on a quiet machine.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static string[] Authorities(IEndpointSource source) =>
        [.. source.Current!.Endpoints.Select(e => e.Authority).Order(StringComparer.Ordinal)];

    [Fact]
    public async Task Unusable_addresses_in_A_and_AAAA_answers_are_dropped_and_named_the_rest_served()
    {
        await using Dnsmasq dns = await Dnsmasq.StartAsync(
        [
            $"--host-record=web.{Zone},169.254.169.254",
            $"--host-record=web.{Zone},255.255.255.255",
            $"--host-record=web.{Zone},224.0.0.1",
            $"--host-record=web.{Zone},0.0.0.0",
            $"--host-record=web.{Zone},127.0.0.1",
            $"--host-record=web.{Zone},10.0.0.7",
            $"--host-record=web.{Zone},fe80::1",
            $"--host-record=web.{Zone},fd00::7",
        ]);
        var harness = new SourceHarness(dns);
        await using DnsEndpointSource source = harness.Create("http://web.prod:8080");

        await source.RefreshAsync(CancellationToken.None);

        Assert.Equal(["10.0.0.7:8080", "[fd00::7]:8080"], Authorities(source));
        Assert.True(source.Status.IsHealthy);
        string logs = string.Join('\n', harness.Logs.Messages);
        Assert.Contains("web.prod:8080", logs);
        Assert.Contains("169.254.169.254 is the link-local cloud metadata address", logs);
        Assert.Contains("255.255.255.255 is the broadcast address", logs);
        Assert.Contains("224.0.0.1 is a multicast address", logs);
        Assert.Contains("127.0.0.1 is a loopback address", logs);
        Assert.Contains("fe80::1 is a link-local address", logs);
    }

    [Fact]
    public async Task An_SRV_record_with_port_0_is_dropped_and_the_others_served()
    {
        await using Dnsmasq dns = await Dnsmasq.StartAsync(
        [
            $"--srv-host=_http._tcp.web.{Zone},web-0.web.{Zone},0,0,10",
            $"--srv-host=_http._tcp.web.{Zone},web-1.web.{Zone},8080,0,10",
            $"--host-record=web-0.web.{Zone},10.0.0.1",
            $"--host-record=web-1.web.{Zone},10.0.0.2",
        ]);
        var harness = new SourceHarness(dns);
        await using DnsEndpointSource source = harness.Create("_http._tcp.web.prod.svc.cluster.local");

        await source.RefreshAsync(CancellationToken.None);

        Assert.Equal(["10.0.0.2:8080"], Authorities(source));
        Assert.Contains(harness.Logs.Messages, m => m.Contains($"SRV 0 10 0 web-0.web.{Zone}", StringComparison.Ordinal) && m.Contains("port 0", StringComparison.Ordinal));
    }

    /// <summary>A scripted server: SRV answers from <paramref name="srv"/>, A answers from <paramref name="a"/> (null: SERVFAIL).</summary>
    private static FakeDnsServer Scripted(Func<DnsQuestion, DnsRecord[]> srv, Func<string, string?> a) => new(exchange =>
    {
        DnsQuestion q = exchange.Query.Questions[0];
        DnsMessage response = DnsMessage.CreateResponse(exchange.Query);
        if (q.Type == DnsRecordType.SRV)
        {
            response = response with { Answers = srv(q) };
        }
        else if (q.Type == DnsRecordType.A)
        {
            response = a(q.Name) is string address
                ? response with { Answers = [new DnsARecord(q.Name, 30, IPAddress.Parse(address))] }
                : DnsMessage.CreateResponse(exchange.Query, DnsResponseCode.ServFail);
        }
        return exchange.Reply(response.Encode());
    });

    [Fact]
    public async Task An_SRV_target_whose_A_lookup_answers_SERVFAIL_is_dropped_naming_the_server_and_the_others_served()
    {
        using FakeDnsServer server = Scripted(
            q => [new DnsSrvRecord(q.Name, 30, 0, 10, 8080, $"good.web.{Zone}"), new DnsSrvRecord(q.Name, 30, 0, 10, 8080, $"broken.web.{Zone}")],
            name => name.StartsWith("good.", StringComparison.Ordinal) ? "10.0.0.1" : null);
        var harness = new SourceHarness(server.Endpoint, o => o.AddressFamilies = DnsAddressFamilies.IPv4);
        await using DnsEndpointSource source = harness.Create("web.prod:http");

        await source.RefreshAsync(CancellationToken.None);

        Assert.Equal(["10.0.0.1:8080"], Authorities(source));
        Assert.True(source.Status.IsHealthy);
        Assert.Contains(harness.Logs.Messages, m => m.Contains($"SRV 0 10 8080 broken.web.{Zone}", StringComparison.Ordinal)
            && m.Contains($"{server.Endpoint} answered ServFail", StringComparison.Ordinal));
    }

    [Fact]
    public async Task SRV_fan_out_is_capped_and_the_failure_message_is_bounded_with_a_count_of_the_rest()
    {
        // 1,400 targets in the issue; 300 here still fit one UDP answer and are over the default cap of 256.
        using FakeDnsServer server = Scripted(
            q => [.. Enumerable.Range(0, 300).Select(i => new DnsSrvRecord(q.Name, 30, 0, 1, 8080, $"t{i}.x"))],
            _ => null);
        var harness = new SourceHarness(server.Endpoint, o => o.AddressFamilies = DnsAddressFamilies.IPv4);
        await using DnsEndpointSource source = harness.Create("web.prod:http");

        await source.RefreshAsync(CancellationToken.None);

        Assert.True(server.Queries <= 1 + 256, $"{server.Queries} queries");
        Exception error = Assert.IsType<DnsServiceNotFoundException>(source.Status.LastError);
        Assert.True(error.Message.Length < 2048, $"{error.Message.Length} characters");
        Assert.Matches(@"and \d+ more", error.Message);
        Assert.Contains(harness.Logs.Messages, m => m.Contains("MaxSrvTargets (256)", StringComparison.Ordinal));
    }

    [Fact]
    public async Task The_SRV_cap_is_configurable()
    {
        using FakeDnsServer server = Scripted(
            q => [.. Enumerable.Range(0, 20).Select(i => new DnsSrvRecord(q.Name, 30, 0, 1, 8080, $"t{i}.x"))],
            name => "10.0.1." + (int.Parse(name[1..name.IndexOf('.')], System.Globalization.CultureInfo.InvariantCulture) + 1));
        var harness = new SourceHarness(server.Endpoint, o =>
        {
            o.AddressFamilies = DnsAddressFamilies.IPv4;
            o.MaxSrvTargets = 5;
        });
        await using DnsEndpointSource source = harness.Create("web.prod:http");

        await source.RefreshAsync(CancellationToken.None);

        Assert.Equal(5, source.Current!.Endpoints.Length);
        Assert.Equal(1 + 5, server.Queries);
    }

    [Fact]
    public async Task A_service_with_nothing_valid_left_keeps_its_last_known_good_and_says_why()
    {
        string address = "10.0.0.1";
        using FakeDnsServer server = Scripted(_ => [], _ => address);
        var harness = new SourceHarness(server.Endpoint, o =>
        {
            o.AddressFamilies = DnsAddressFamilies.IPv4;
            o.EmptyAnswerGracePeriod = TimeSpan.Zero;
        });
        await using DnsEndpointSource source = harness.Create("http://web.prod:8080");
        await source.RefreshAsync(CancellationToken.None);
        Assert.Equal(["10.0.0.1:8080"], Authorities(source));

        address = "169.254.169.254";
        await source.RefreshAsync(CancellationToken.None);

        Assert.Equal(["10.0.0.1:8080"], Authorities(source));
        Assert.Contains("169.254.169.254", source.Status.LastError!.Message);
        Assert.Contains("every address was refused", source.Status.LastError.Message);
    }

    [Fact]
    public async Task A_malformed_answer_is_reported_as_malformed_not_as_a_timeout()
    {
        // The timeout runs on the test's clock and passes only once the client has read and ignored the malformed answer:
        // a server answering late on a loaded machine cannot turn this into a plain timeout.
        var time = new FakeTimeProvider();
        var logs = new ListLoggerFactory();
        using FakeDnsServer server = new(exchange => exchange.Reply(exchange.Answer("10.0.0.1")[..^3]));
        var client = new DnsStubClient(new DnsResolverSettings { Servers = [server.Endpoint], Timeout = TimeSpan.FromMilliseconds(300), Attempts = 1 },
            time, new Logger<DnsStubClient>(logs));

        Task<DnsQueryResult> query = client.QueryAsync(new DnsQuestion($"web.{Zone}", DnsRecordType.A));
        await logs.WaitForAsync(m => m.Contains($"ignored a malformed response from {server.Endpoint}", StringComparison.Ordinal), Patience);
        time.Advance(TimeSpan.FromMilliseconds(300));
        DnsResolutionException error = await Assert.ThrowsAsync<DnsResolutionException>(() => query);

        Assert.Contains($"{server.Endpoint} sent no usable answer within 300 ms; it sent a malformed response", error.Message);
        Assert.Contains("Malformed DNS message", error.Message);
    }

    [Fact]
    public async Task A_malformed_answer_still_queued_when_the_timeout_fires_is_reported_as_malformed()
    {
        // The deadline passes the moment the server has sent, before the client's receive has woken up (a loaded machine
        // wakes it late): the datagram was there by the deadline, so the failure names it rather than a silent server.
        var time = new FakeTimeProvider();
        using var handled = new SemaphoreSlim(0);
        using FakeDnsServer server = new(async exchange =>
        {
            await exchange.Reply(exchange.Answer("10.0.0.1")[..^3]);
            time.Advance(TimeSpan.FromMilliseconds(300));
            handled.Release();
        });
        var client = new DnsStubClient(new DnsResolverSettings { Servers = [server.Endpoint], Timeout = TimeSpan.FromMilliseconds(300), Attempts = 1 }, time);

        for (int i = 0; i < 20; i++)
        {
            DnsResolutionException error = await Assert.ThrowsAsync<DnsResolutionException>(() => client.QueryAsync(new DnsQuestion($"web.{Zone}", DnsRecordType.A)));
            Assert.Contains($"{server.Endpoint} sent no usable answer within 300 ms; it sent a malformed response", error.Message);
            Assert.True(await handled.WaitAsync(Patience), "the server did not finish its exchange");
        }
    }

    [Fact]
    public async Task FORMERR_and_a_truncated_answer_without_TCP_say_so_per_server()
    {
        using FakeDnsServer formerr = new(exchange => exchange.Reply(DnsMessage.CreateResponse(exchange.Query, DnsResponseCode.FormErr).Encode()));
        using FakeDnsServer truncated = new(exchange => exchange.Reply((DnsMessage.CreateResponse(exchange.Query) with { IsTruncated = true }).Encode()));
        var client = new DnsStubClient(new DnsResolverSettings { Servers = [formerr.Endpoint, truncated.Endpoint], Timeout = TimeSpan.FromMilliseconds(300), Attempts = 1 });

        DnsResolutionException error = await Assert.ThrowsAsync<DnsResolutionException>(() => client.QueryAsync(new DnsQuestion($"web.{Zone}", DnsRecordType.A)));

        Assert.Contains($"{formerr.Endpoint} answered FormErr (it could not parse the query)", error.Message);
        Assert.Contains($"{truncated.Endpoint} truncated its UDP answer and the TCP retry failed", error.Message);
    }

    [Fact]
    public async Task A_CNAME_loop_is_reported_with_its_chain()
    {
        // dnsmasq refuses to start with a CNAME loop, so a scripted server sends one: a -> b, and asked for b, b -> a.
        using FakeDnsServer server = new(exchange =>
        {
            DnsQuestion q = exchange.Query.Questions[0];
            string target = q.Name.StartsWith("a.", StringComparison.Ordinal) ? $"b.{Zone}" : $"a.{Zone}";
            return exchange.Reply((DnsMessage.CreateResponse(exchange.Query) with { Answers = [new DnsCnameRecord(q.Name, 30, target)] }).Encode());
        });
        // A generous timeout: the server answers at once, and a slow machine must not turn the loop into a timeout.
        var settings = new DnsResolverSettings { Servers = [server.Endpoint], Timeout = TimeSpan.FromSeconds(5), Attempts = 1 };
        var resolver = new DnsResolver(new DnsStubClient(settings), settings);

        DnsResolutionException error = await Assert.ThrowsAsync<DnsResolutionException>(() => resolver.LookupAsync($"a.{Zone}.", DnsRecordType.A));

        Assert.True(error.Message.Contains($"a.{Zone} -> b.{Zone} -> a.{Zone}", StringComparison.Ordinal), error.Message);
        Assert.Contains("loops", error.Message);
    }

    [Fact]
    public async Task A_server_that_does_not_answer_is_named_with_its_timeout()
    {
        using FakeDnsServer silent = new(null);
        var time = new TrackingTimeProvider();
        var client = new DnsStubClient(new DnsResolverSettings { Servers = [silent.Endpoint], Timeout = TimeSpan.FromMilliseconds(200), Attempts = 2 }, time);

        Task<DnsQueryResult> query = client.QueryAsync(new DnsQuestion($"web.{Zone}", DnsRecordType.A));
        for (int attempt = 0; attempt < 2; attempt++)
        {
            await time.WaitForTimerAsync(Patience);
            time.Advance(TimeSpan.FromMilliseconds(200));
        }
        DnsResolutionException error = await Assert.ThrowsAsync<DnsResolutionException>(() => query);

        Assert.Contains($"attempt 1: {silent.Endpoint} did not answer within 200 ms", error.Message);
        Assert.Contains($"attempt 2: {silent.Endpoint} did not answer within 200 ms", error.Message);
    }
}
