using System.Net;
using System.Net.Sockets;
using ClientLb.Dns.Client;
using ClientLb.Dns.Configuration;
using ClientLb.Dns.Protocol;
using ClientLb.Dns.Tests.Infrastructure;
using ClientLb.Testing;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Dns.Tests.Client;

/// <summary>Behaviours a real server will not show on demand, from a scripted loopback UDP server.</summary>
public class SpoofingAndFailoverTests
{
    private static readonly DnsQuestion Question = new("web.prod.svc.cluster.local", DnsRecordType.A);

    /// <summary>How long a test waits for something that happens at once on a quiet machine.</summary>
    private static readonly TimeSpan Patience = TimeSpan.FromSeconds(30);

    private static DnsStubClient ClientFor(params IPEndPoint[] servers) =>
        new(new DnsResolverSettings { Servers = servers, Timeout = TimeSpan.FromSeconds(2), Attempts = 1 });

    private static IPAddress AnswerOf(DnsQueryResult result) => Assert.IsType<DnsARecord>(Assert.Single(result.Response.Answers)).Address;

    [Fact]
    public async Task Answers_with_the_wrong_ID_question_or_source_and_garbage_are_ignored_until_the_real_one()
    {
        using var intruder = new Socket(AddressFamily.InterNetwork, SocketType.Dgram, ProtocolType.Udp);
        intruder.Bind(new IPEndPoint(IPAddress.Parse("127.55.0.1"), 0));
        using var server = new FakeDnsServer(async exchange =>
        {
            await intruder.SendToAsync(exchange.Answer("6.6.6.1"), SocketFlags.None, exchange.Client);
            await exchange.Reply(exchange.Answer("6.6.6.2", id: (ushort)(exchange.Query.Id ^ 0x5555)));
            await exchange.Reply(exchange.Answer("6.6.6.3", name: "evil.example"));
            byte[] garbage = exchange.Answer("6.6.6.4");
            await exchange.Reply(garbage[..^3]);
            await exchange.Reply(exchange.Answer("10.0.0.1"));
        });

        DnsQueryResult result = await ClientFor(server.Endpoint).QueryAsync(Question);

        Assert.Equal(IPAddress.Parse("10.0.0.1"), AnswerOf(result));
    }

    [Fact]
    public async Task An_answer_still_queued_when_the_timeout_fires_is_used()
    {
        // The deadline passes the moment the server has sent, before the client's receive has woken up (a loaded machine
        // wakes it late): the answer arrived by the deadline and is used, not reported as a timeout.
        var time = new FakeTimeProvider();
        using var handled = new SemaphoreSlim(0);
        using var server = new FakeDnsServer(async exchange =>
        {
            await exchange.Reply(exchange.Answer("10.0.0.1"));
            time.Advance(TimeSpan.FromSeconds(2));
            handled.Release();
        });
        var client = new DnsStubClient(new DnsResolverSettings { Servers = [server.Endpoint], Timeout = TimeSpan.FromSeconds(2), Attempts = 1 }, time);

        for (int i = 0; i < 20; i++)
        {
            Assert.Equal(IPAddress.Parse("10.0.0.1"), AnswerOf(await client.QueryAsync(Question)));
            // The next query starts once this one's deadline has passed, so that advance cannot reach the next one's timer.
            Assert.True(await handled.WaitAsync(TimeSpan.FromSeconds(30)), "the server did not finish its exchange");
        }
    }

    [Fact]
    public async Task Queries_use_random_IDs_and_source_ports()
    {
        var ids = new List<ushort>();
        var ports = new List<int>();
        using var server = new FakeDnsServer(async exchange =>
        {
            lock (ids)
            {
                ids.Add(exchange.Query.Id);
                ports.Add(exchange.Client.Port);
            }
            await exchange.Reply(exchange.Answer("10.0.0.1"));
        });
        DnsStubClient client = ClientFor(server.Endpoint);

        for (int i = 0; i < 20; i++)
        {
            await client.QueryAsync(Question);
        }

        Assert.True(ids.Distinct().Count() >= 18, $"IDs: {string.Join(",", ids)}");
        Assert.True(ports.Distinct().Count() >= 18, $"ports: {string.Join(",", ports)}");
    }

    [Fact]
    public async Task SERVFAIL_moves_on_to_the_next_server()
    {
        using var failing = new FakeDnsServer(exchange => exchange.Reply(DnsMessage.CreateResponse(exchange.Query, DnsResponseCode.ServFail).Encode()));
        using var good = new FakeDnsServer(exchange => exchange.Reply(exchange.Answer("10.0.0.2")));

        DnsQueryResult result = await ClientFor(failing.Endpoint, good.Endpoint).QueryAsync(Question);

        Assert.Equal(good.Endpoint, result.Server);
        Assert.Equal(1, failing.Queries);
    }

    [Fact]
    public async Task FORMERR_to_an_EDNS_query_is_retried_without_EDNS()
    {
        var sawEdns = new List<bool>();
        using var old = new FakeDnsServer(exchange =>
        {
            sawEdns.Add(exchange.Query.Edns is not null);
            return exchange.Reply(exchange.Query.Edns is not null
                ? (DnsMessage.CreateResponse(exchange.Query, DnsResponseCode.FormErr) with { Questions = [], Edns = null }).Encode()
                : exchange.Answer("10.0.0.3"));
        });

        DnsQueryResult result = await ClientFor(old.Endpoint).QueryAsync(Question);

        Assert.Equal(IPAddress.Parse("10.0.0.3"), AnswerOf(result));
        Assert.Equal([true, false], sawEdns);
    }

    [Fact]
    public async Task Rotate_spreads_queries_over_the_servers()
    {
        using var a = new FakeDnsServer(exchange => exchange.Reply(exchange.Answer("10.0.0.1")));
        using var b = new FakeDnsServer(exchange => exchange.Reply(exchange.Answer("10.0.0.2")));
        var rotating = new DnsStubClient(new DnsResolverSettings { Servers = [a.Endpoint, b.Endpoint], Rotate = true, Attempts = 1 });
        var ordered = new DnsStubClient(new DnsResolverSettings { Servers = [a.Endpoint, b.Endpoint], Attempts = 1 });

        for (int i = 0; i < 10; i++)
        {
            await rotating.QueryAsync(Question);
        }
        Assert.Equal(5, a.Queries);
        Assert.Equal(5, b.Queries);

        for (int i = 0; i < 4; i++)
        {
            await ordered.QueryAsync(Question);
        }
        Assert.Equal(9, a.Queries);
        Assert.Equal(5, b.Queries);
    }

    [Fact]
    public async Task Timeouts_count_against_attempts_over_all_servers_in_order()
    {
        // The servers record each query on their own receive loops: the test reads what they saw from this channel, so it
        // neither races their writes nor misses a query still in flight when the client gives up.
        var order = System.Threading.Channels.Channel.CreateUnbounded<string>();
        using var a = new FakeDnsServer(exchange => { order.Writer.TryWrite("a"); return Task.CompletedTask; });
        using var b = new FakeDnsServer(exchange => { order.Writer.TryWrite("b"); return Task.CompletedTask; });
        var time = new TrackingTimeProvider();
        var client = new DnsStubClient(new DnsResolverSettings { Servers = [a.Endpoint, b.Endpoint], Timeout = TimeSpan.FromMilliseconds(150), Attempts = 2 }, time);

        Task<DnsQueryResult> query = client.QueryAsync(Question);
        string[] asked = new string[4];
        for (int attempt = 0; attempt < asked.Length; attempt++)
        {
            // Each attempt's deadline runs on the test's clock: once the server has the query and the deadline is armed,
            // 150 ms pass and the next server is asked. (Advancing before the query arrived could cancel its send.)
            asked[attempt] = await order.Reader.ReadAsync().AsTask().WaitAsync(Patience);
            await time.WaitForTimerAsync(Patience);
            time.Advance(TimeSpan.FromMilliseconds(150));
        }
        DnsResolutionException ex = await Assert.ThrowsAsync<DnsResolutionException>(() => query);

        Assert.Equal(["a", "b", "a", "b"], asked);
        Assert.False(order.Reader.TryRead(out _));
        Assert.Equal(4, ex.Attempts.Count);
        Assert.All(ex.Attempts, attempt => Assert.Contains("did not answer within 150 ms", attempt, StringComparison.Ordinal));
    }

    [Fact]
    public async Task No_configured_server_is_a_clear_error()
    {
        DnsResolutionException ex = await Assert.ThrowsAsync<DnsResolutionException>(() => new DnsStubClient(new DnsResolverSettings { Origin = "/etc/resolv.conf" }).QueryAsync(Question));
        Assert.Contains("/etc/resolv.conf lists no nameserver", ex.Message, StringComparison.Ordinal);
    }
}
