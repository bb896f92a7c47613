using ClientLb.Balancing;
using ClientLb.Testing;
using ClientLb.Tests.Infrastructure;

namespace ClientLb.Tests.Http;

/// <summary>
/// An endpoint that never accepts (its SYNs dropped inside a network namespace the test creates): a connect that times
/// out is the endpoint's failure, not the caller's cancellation. It is retried on another endpoint and counted for ejection.
/// </summary>
[Collection(DeadlinesAlone.Name)]
public sealed class ConnectTimeoutTests
{
    [Fact]
    public async Task A_connect_that_times_out_is_retried_elsewhere_and_ejects_the_endpoint()
    {
        using var blackhole = new BlackholeNamespace();
        await using TestBackend a = await TestBackend.StartAsync("a", "127.0.9.2");
        await using TestBackend b = await TestBackend.StartAsync("b", "127.0.9.3");
        Dictionary<string, string?> config = ClientLbTestHost.Endpoints("dropped", a.Authority, $"{blackhole.Address}:8080", b.Authority);
        config["ClientLb:Services:dropped:Policy"] = "RoundRobin";
        config["ClientLb:Services:dropped:Health:ConsecutiveConnectionFailures"] = "2";
        await using var host = new ClientLbTestHost(config, options: o => o.ConfigureTransport = h => h.ConnectTimeout = TimeSpan.FromMilliseconds(300));
        HttpClient client = host.CreateClient("http://dropped");
        client.Timeout = TimeSpan.FromSeconds(2);

        var failures = new List<string>();
        await Task.WhenAll(Enumerable.Range(0, 4).Select(async _ =>
        {
            for (int i = 0; i < 10; i++)
            {
                try
                {
                    using HttpResponseMessage response = await client.GetAsync("/");
                    response.EnsureSuccessStatusCode();
                }
                catch (Exception ex)
                {
                    lock (failures)
                    {
                        failures.Add(ex.GetType().Name + ": " + ex.Message);
                    }
                }
            }
        }));

        Assert.Empty(failures);
        Assert.Equal(40, a.Requests + b.Requests);
        BalancedEndpoint dropped = host.Registry.GetBalancer("http://dropped").KnownEndpoints.Single(e => e.Endpoint.Host == blackhole.Address);
        Assert.True(dropped.IsEjected, "the endpoint whose connects time out was not ejected");
    }

    [Fact]
    public async Task The_error_of_a_connect_that_times_out_names_the_service_and_the_endpoint()
    {
        using var blackhole = new BlackholeNamespace();
        Dictionary<string, string?> config = ClientLbTestHost.Endpoints("lonely", $"{blackhole.Address}:8080");
        await using var host = new ClientLbTestHost(config, options: o => o.ConfigureTransport = h => h.ConnectTimeout = TimeSpan.FromMilliseconds(200));
        HttpClient client = host.CreateClient("http://lonely");

        HttpRequestException error = await Assert.ThrowsAsync<HttpRequestException>(() => client.GetAsync("/"));

        Assert.Equal(HttpRequestError.ConnectionError, error.HttpRequestError);
        Assert.Contains("lonely.default", error.Message);
        Assert.Contains($"{blackhole.Address}:8080", error.Message);
    }
}
