using System.Net;
using ClientLb.Balancing;
using ClientLb.Balancing.Policies;
using ClientLb.Endpoints;

namespace ClientLb.Tests.LoadBalancing;

public class RoundRobinTests
{
    private static List<BalancedEndpoint> Endpoints(int count) =>
        [.. Enumerable.Range(1, count).Select(i => new BalancedEndpoint(new Endpoint(IPAddress.Parse($"127.0.0.{i}"), 80), "svc.default"))];

    [Fact]
    public void Each_endpoint_gets_exactly_its_share()
    {
        EndpointPicker picker = new RoundRobinPolicy().CreatePicker(Endpoints(3));
        var counts = new Dictionary<BalancedEndpoint, int>();
        for (int i = 0; i < 300; i++)
        {
            BalancedEndpoint e = picker.Pick(new PickContext(null));
            counts[e] = counts.GetValueOrDefault(e) + 1;
        }
        Assert.Equal(3, counts.Count);
        Assert.All(counts.Values, c => Assert.Equal(100, c));
    }

    [Fact]
    public void The_excluded_endpoint_is_skipped_when_another_exists()
    {
        List<BalancedEndpoint> endpoints = Endpoints(2);
        EndpointPicker picker = new RoundRobinPolicy().CreatePicker(endpoints);
        for (int i = 0; i < 10; i++)
        {
            Assert.Same(endpoints[1], picker.Pick(new PickContext(null, endpoints[0])));
        }
        EndpointPicker single = new RoundRobinPolicy().CreatePicker(endpoints[..1]);
        Assert.Same(endpoints[0], single.Pick(new PickContext(null, endpoints[0])));
    }

    [Fact]
    public void Concurrent_picks_stay_even()
    {
        EndpointPicker picker = new RoundRobinPolicy().CreatePicker(Endpoints(4));
        int[] counts = new int[5];
        Parallel.For(0, 40_000, _ =>
        {
            BalancedEndpoint e = picker.Pick(new PickContext(null));
            Interlocked.Increment(ref counts[e.Endpoint.Address!.GetAddressBytes()[3]]);
        });
        Assert.All(counts[1..], c => Assert.Equal(10_000, c));
    }

    [Fact]
    public void Picking_allocates_nothing()
    {
        EndpointPicker picker = new RoundRobinPolicy().CreatePicker(Endpoints(3));
        picker.Pick(new PickContext(null));
        long before = GC.GetAllocatedBytesForCurrentThread();
        for (int i = 0; i < 10_000; i++)
        {
            picker.Pick(new PickContext(null));
        }
        Assert.Equal(0, GC.GetAllocatedBytesForCurrentThread() - before);
    }
}
