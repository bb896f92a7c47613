using System.Net;
using ClientLb.Balancing;
using ClientLb.Endpoints;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Tests.LoadBalancing;

public class FirstRequestTests
{
    [Fact]
    public async Task A_first_request_racing_the_first_answer_waits_for_the_picker_built_from_it()
    {
        var factory = new TestSourceFactory();
        TestSource source = factory.Add("racy");
        await using var host = new ClientLbTestHost(new Dictionary<string, string?>(), services => services.AddSingleton<ClientLb.Sources.IEndpointSourceFactory>(factory));

        // This subscriber is registered before the balancer's, so it runs when the snapshot is already published but
        // the balancer has not rebuilt its picker yet: exactly where a concurrent first request can land.
        ServiceBalancer? balancer = null;
        Task? ready = null;
        Exception? pickedTooEarly = null;
        using IDisposable early = source.Subscribe(_ =>
        {
            ValueTask waiting = balancer!.EnsureReadyAsync(TimeSpan.FromSeconds(10), default);
            if (waiting.IsCompleted)
            {
                try
                {
                    balancer.Pick(new PickContext(null));
                }
                catch (NoEndpointsException ex)
                {
                    pickedTooEarly = ex;
                }
            }
            ready = waiting.AsTask();
        });
        balancer = host.Registry.GetBalancer("racy");

        source.Set(new Endpoint(IPAddress.Parse("127.0.0.2"), 80));

        Assert.Null(pickedTooEarly);
        await ready!.WaitAsync(TimeSpan.FromSeconds(10));
        Assert.Equal("127.0.0.2:80", balancer.Pick(new PickContext(null)).Endpoint.Authority);
    }
}
