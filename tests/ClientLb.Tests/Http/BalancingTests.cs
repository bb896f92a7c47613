using System.Diagnostics.Metrics;
using System.Net;
using ClientLb.Tests.Infrastructure;
using Microsoft.AspNetCore.Server.Kestrel.Core;

namespace ClientLb.Tests.Http;

/// <summary>Round-robin over real Kestrel backends on distinct loopback addresses.</summary>
public sealed class BalancingTests : IAsyncLifetime
{
    private readonly List<TestBackend> _backends = [];

    public async Task InitializeAsync()
    {
        _backends.Add(await TestBackend.StartAsync("a", "127.0.0.2"));
        _backends.Add(await TestBackend.StartAsync("b", "127.0.0.3"));
        _backends.Add(await TestBackend.StartAsync("c", "127.0.0.4"));
    }

    public async Task DisposeAsync()
    {
        foreach (TestBackend backend in _backends)
        {
            await backend.DisposeAsync();
        }
    }

    private ClientLbTestHost Host(params TestBackend[] backends) =>
        new(ClientLbTestHost.Endpoints("payments", [.. backends.Select(b => b.Authority)]));

    [Fact]
    public async Task Three_hundred_sequential_requests_split_exactly_in_thirds()
    {
        await using ClientLbTestHost host = Host([.. _backends]);
        HttpClient client = host.CreateClient("http://payments");
        var seen = new Dictionary<string, int>();
        for (int i = 0; i < 300; i++)
        {
            string body = await client.GetStringAsync("/");
            string name = body.Split('|')[0];
            seen[name] = seen.GetValueOrDefault(name) + 1;
        }
        Assert.Equal(new Dictionary<string, int> { ["a"] = 100, ["b"] = 100, ["c"] = 100 }, seen);
    }

    [Fact]
    public async Task The_host_header_stays_the_logical_name()
    {
        await using ClientLbTestHost host = Host([.. _backends]);
        HttpClient client = host.CreateClient("http://payments.default:8080");
        string body = await client.GetStringAsync("/orders");
        Assert.Equal("payments.default:8080", body.Split('|')[1]);
    }

    [Fact]
    public async Task Http2_requests_over_one_client_are_balanced_per_request()
    {
        var h2 = new List<TestBackend>();
        try
        {
            for (int i = 0; i < 3; i++)
            {
                h2.Add(await TestBackend.StartAsync($"h2-{i}", $"127.0.1.{i + 2}", HttpProtocols.Http2));
            }
            // The default (Auto) balances HTTP/2 by least outstanding requests; exact thirds are round-robin's promise.
            Dictionary<string, string?> config = ClientLbTestHost.Endpoints("payments", [.. h2.Select(b => b.Authority)]);
            config["ClientLb:Services:payments:Policy"] = "RoundRobin";
            await using var host = new ClientLbTestHost(config);
            HttpClient client = host.CreateClient("http://payments");
            client.DefaultRequestVersion = HttpVersion.Version20;
            client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
            var protocols = new HashSet<string>();
            // Concurrent requests over one client: with per-connection balancing they would pile onto one connection.
            await Parallel.ForEachAsync(Enumerable.Range(0, 300), new ParallelOptions { MaxDegreeOfParallelism = 8 }, async (_, ct) =>
            {
                string body = await client.GetStringAsync("/", ct);
                lock (protocols)
                {
                    protocols.Add(body.Split('|')[2]);
                }
            });
            Assert.Equal(["HTTP/2"], protocols);
            Assert.All(h2, b => Assert.Equal(100, b.Requests));
        }
        finally
        {
            foreach (TestBackend b in h2)
            {
                await b.DisposeAsync();
            }
        }
    }

    [Fact]
    public async Task A_refused_connection_is_retried_on_another_endpoint()
    {
        // 127.0.0.9 has no listener: every connection to it is refused.
        Dictionary<string, string?> config = ClientLbTestHost.Endpoints("refusing", "127.0.0.9:" + _backends[0].Port, _backends[0].Authority, _backends[1].Authority);
        await using var host = new ClientLbTestHost(config);
        using var retries = new MeasurementCollector("clientlb.retries", "refusing.default");
        using var failures = new MeasurementCollector("clientlb.failures", "refusing.default");
        HttpClient client = host.CreateClient("http://refusing");
        for (int i = 0; i < 30; i++)
        {
            // POST: not idempotent, but nothing was sent on a refused connection, so it is safe to retry.
            using HttpResponseMessage response = await client.PostAsync("/", new StringContent("x"));
            Assert.Equal(HttpStatusCode.OK, response.StatusCode);
        }
        Assert.Equal(30, _backends[0].Requests + _backends[1].Requests);
        // Every refused attempt (about a third of the picks) was retried once, and nothing else was.
        Assert.InRange(failures.Total, 5, 20);
        Assert.Equal(failures.Total, retries.Total);
    }

    [Fact]
    public async Task A_stopped_backend_fails_no_request()
    {
        await using ClientLbTestHost host = Host([.. _backends]);
        HttpClient client = host.CreateClient("http://payments");
        for (int i = 0; i < 30; i++)
        {
            await client.GetStringAsync("/");
        }
        await _backends[1].StopAsync();
        int failed = 0;
        for (int i = 0; i < 60; i++)
        {
            using HttpResponseMessage response = await client.GetAsync("/");
            failed += response.IsSuccessStatusCode ? 0 : 1;
        }
        Assert.Equal(0, failed);
        Assert.Equal(90 - 10, _backends[0].Requests + _backends[2].Requests);
    }

    [Fact]
    public async Task Idempotent_requests_are_retried_on_503_and_posts_are_not()
    {
        _backends[0].StatusCode = 503;
        // This test is about retry classification; passive health would eject the failing backend after 5 errors.
        Dictionary<string, string?> config = ClientLbTestHost.Endpoints("payments", _backends[0].Authority, _backends[1].Authority);
        config["ClientLb:Services:payments:Health:Enabled"] = "false";
        await using var host = new ClientLbTestHost(config);
        HttpClient client = host.CreateClient("http://payments");
        for (int i = 0; i < 10; i++)
        {
            using HttpResponseMessage get = await client.GetAsync("/");
            Assert.Equal(HttpStatusCode.OK, get.StatusCode);
        }
        int unavailable = 0;
        for (int i = 0; i < 10; i++)
        {
            using HttpResponseMessage post = await client.PostAsync("/", new StringContent("x"));
            unavailable += post.StatusCode == HttpStatusCode.ServiceUnavailable ? 1 : 0;
        }
        Assert.Equal(5, unavailable);
    }
}

/// <summary>Sums a ClientLb counter while alive.</summary>
public sealed class MeasurementCollector : IDisposable
{
    private readonly MeterListener _listener = new();
    private long _total;

    /// <param name="instrument">The instrument name.</param>
    /// <param name="service">Only measurements of this service (tests run in parallel and share the meter name).</param>
    public MeasurementCollector(string instrument, string service)
    {
        _listener.InstrumentPublished = (i, l) =>
        {
            if (i.Meter.Name == "ClientLb" && i.Name == instrument)
            {
                l.EnableMeasurementEvents(i);
            }
        };
        _listener.SetMeasurementEventCallback<long>((_, value, tags, _) =>
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "clientlb.service" && (string?)tag.Value == service)
                {
                    Interlocked.Add(ref _total, value);
                }
            }
        });
        _listener.Start();
    }

    public long Total => Interlocked.Read(ref _total);

    public void Dispose() => _listener.Dispose();
}
