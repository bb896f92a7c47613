using System.Collections.Immutable;
using System.Net;
using ClientLb.Balancing;
using ClientLb.Balancing.Policies;
using ClientLb.Eligibility;
using ClientLb.Endpoints;
using ClientLb.Tests.Infrastructure;
using ClientLb.Tests.Sources;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Tests.LoadBalancing;

/// <summary>
/// A source change that says what changed is applied to the balancer as a delta; whatever the path, the picker must
/// equal what a full rebuild from the same snapshot gives, and endpoints that stay keep their state.
/// </summary>
public sealed class DeltaRebuildTests
{
    private readonly FakeTimeProvider _time = new();

    private (ClientLbTestHost Host, TestSource Source) Create(string service, Dictionary<string, string?>? config = null)
    {
        var factory = new TestSourceFactory();
        TestSource source = factory.Add(service);
        var host = new ClientLbTestHost(config ?? [], services =>
        {
            services.AddSingleton<ClientLb.Sources.IEndpointSourceFactory>(factory);
            services.AddSingleton<TimeProvider>(_time);
        });
        return (host, source);
    }

    private static Endpoint At(int last, EndpointConditions? conditions = null) => new(IPAddress.Parse($"10.0.0.{last}"), 80, conditions);

    private static readonly EndpointConditions NotReady = new(false, false, false);
    private static readonly EndpointConditions Terminating = new(false, true, true);

    [Theory]
    [InlineData(RoundRobinPolicy.PolicyName)]
    [InlineData(PowerOfTwoChoicesPolicy.PolicyName)]
    [InlineData("Weighted")]
    [InlineData("Hash")]
    public async Task Every_change_leaves_the_picker_equal_to_a_full_rebuild(string policy)
    {
        (ClientLbTestHost host, TestSource source) = Create("svc", new() { ["ClientLb:Services:svc:Policy"] = policy });
        await using ClientLbTestHost _ = host;
        var random = new Random(policy.Length);
        source.Set([.. Enumerable.Range(1, 20).Select(i => At(i))]);
        ServiceBalancer balancer = host.Registry.GetBalancer("svc");
        var model = source.Current!.Endpoints.ToDictionary(e => e.Authority);

        for (int step = 0; step < 600; step++)
        {
            Dictionary<string, BalancedEndpoint> before = balancer.Picker.Endpoints.ToDictionary(e => e.Endpoint.Authority);
            RandomChange(source, model, random, () => EndpointChangesTests.RandomEndpoint(random), removeOneIn: 12);

            EndpointSelection expected = EndpointSelector.Select([.. model.Values]);
            Assert.Equal(expected.Eligible.Select(e => e.Authority).Order(), balancer.Picker.Endpoints.Select(e => e.Endpoint.Authority).Order());
            Assert.All(balancer.Picker.Endpoints, e => Assert.Equal(model[e.Endpoint.Authority], e.Endpoint));
            Assert.All(balancer.Picker.Endpoints, e => Assert.False(e.IsRetired));
            EndpointSelection selection = balancer.Selection!;
            Assert.Equal((expected.Kind, expected.Total, expected.Ready, expected.ServingTerminating),
                (selection.Kind, selection.Total, selection.Ready, selection.ServingTerminating));
            // An endpoint eligible before and after keeps its BalancedEndpoint (counters, health, connections);
            // one that left is retired.
            foreach ((string authority, BalancedEndpoint old) in before)
            {
                BalancedEndpoint? now = balancer.Picker.Endpoints.FirstOrDefault(e => e.Endpoint.Authority == authority);
                if (now is not null)
                {
                    Assert.Same(old, now);
                }
                else if (now is null)
                {
                    Assert.True(old.IsRetired, $"{authority} left but is not retired");
                }
            }
            if (expected.Eligible.Length > 0)
            {
                Assert.Contains(balancer.Pick(new PickContext(null)), balancer.Picker.Endpoints);
            }
        }
        (long delta, long full) = balancer.RebuildCounts;
        Assert.True(delta > 400, $"only {delta} of 600 changes went through the delta path ({full} full rebuilds)");
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task Every_change_leaves_the_topology_candidates_equal_to_the_topology_filter(bool locationPreference)
    {
        (ClientLbTestHost host, TestSource source) = Create("svc", new()
        {
            ["ClientLb:Locality:NodeName"] = "n1",
            ["ClientLb:Locality:Zone"] = "z1",
            ["ClientLb:Services:svc:Policy"] = RoundRobinPolicy.PolicyName,
            ["ClientLb:Services:svc:Topology:Enabled"] = locationPreference ? "true" : "false",
        });
        await using ClientLbTestHost _ = host;
        var random = new Random(locationPreference ? 5 : 6);
        string? Pick(params string?[] values) => values[random.Next(values.Length)];
        // Hinted most of the time, so the hint rule applies often and stops applying when one endpoint lacks a hint.
        Endpoint Random() => new(IPAddress.Parse($"10.0.0.{random.Next(1, 30)}"), 80,
            random.Next(6) == 0 ? new EndpointConditions(false, true, true) : random.Next(8) == 0 ? NotReady : EndpointConditions.ReadyAndServing,
            zone: Pick("z1", "z2", null), nodeName: Pick("n1", "n2", "n3"),
            zoneHints: random.Next(10) == 0 ? null : [Pick("z1", "z2")!], nodeHints: random.Next(10) == 0 ? null : [Pick("n1", "n2")!]);
        source.Set([.. Enumerable.Range(0, 12).Select(_ => Random())]);
        ServiceBalancer balancer = host.Registry.GetBalancer("svc");
        var model = source.Current!.Endpoints.ToDictionary(e => e.Authority);
        var levels = new HashSet<TopologyLevel>();

        for (int step = 0; step < 800; step++)
        {
            RandomChange(source, model, random, Random, removeOneIn: 10);

            ImmutableArray<Endpoint> eligible = EndpointSelector.Select([.. model.Values]).Eligible;
            TopologyLevel level = TopologyFilter.Choose(eligible, e => e, _ => true, "n1", "z1", locationPreference ? 0.7 : null);
            levels.Add(level);
            Assert.Equal(level, balancer.TopologyLevel);
            Assert.Equal(eligible.Where(e => TopologyFilter.IsIn(e, level, "n1", "z1")).Select(e => e.Authority).Order(),
                balancer.Picker.Endpoints.Select(e => e.Endpoint.Authority).Order());
        }
        Assert.Contains(TopologyLevel.NodeHints, levels);
        Assert.Contains(TopologyLevel.ZoneHints, levels);
        Assert.Contains(TopologyLevel.Any, levels);
        if (locationPreference)
        {
            Assert.Contains(TopologyLevel.Node, levels);
        }
        (long delta, long _) = balancer.RebuildCounts;
        Assert.True(delta > 500, $"only {delta} of 800 changes went through the delta path");
    }

    [Fact]
    public async Task One_readiness_flip_is_a_delta_and_the_last_ready_endpoint_leaving_falls_back_to_terminating_ones()
    {
        (ClientLbTestHost host, TestSource source) = Create("svc");
        await using ClientLbTestHost _ = host;
        source.Set(At(1), At(2), At(3, Terminating));
        ServiceBalancer balancer = host.Registry.GetBalancer("svc");
        (long delta, long full) = balancer.RebuildCounts;

        source.Change([At(2, NotReady)]);
        Assert.Equal(["10.0.0.1"], balancer.Picker.Endpoints.Select(e => e.Endpoint.Host));
        Assert.Equal((delta + 1, full), balancer.RebuildCounts);

        // No ready endpoint left: the eligibility rule changes for everyone, which needs the full pass.
        source.Change([], At(1));
        Assert.Equal(["10.0.0.3"], balancer.Picker.Endpoints.Select(e => e.Endpoint.Host));
        Assert.Equal(EndpointSelectionKind.ServingTerminatingFallback, balancer.Selection!.Kind);
        Assert.Equal((delta + 1, full + 1), balancer.RebuildCounts);
    }

    [Fact]
    public async Task An_endpoint_replaced_in_place_is_not_kept_alive_by_the_indexes_of_the_source_or_the_balancer()
    {
        (ClientLbTestHost host, TestSource source) = Create("svc");
        await using ClientLbTestHost _ = host;
        // Twenty endpoints: the source keeps its index from 16 on.
        WeakReference replaced = SetAndForgetTheFirst(source, 20);
        ServiceBalancer balancer = host.Registry.GetBalancer("svc");
        Assert.Equal(20, balancer.EligibleCount);

        source.Change([new Endpoint(IPAddress.Parse("10.0.0.1"), 80, zone: "b")]); // the same host and port, another zone
        source.Change([At(21)]); // the snapshot's list of changes no longer names the replaced one
        Assert.Equal(21, balancer.EligibleCount);
        Assert.Equal("b", balancer.KnownEndpoints.Single(e => e.Endpoint.Host == "10.0.0.1").Endpoint.Zone);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        Assert.False(replaced.IsAlive, "the replaced endpoint is still referenced (an index keyed by the old object?)");
    }

    [System.Runtime.CompilerServices.MethodImpl(System.Runtime.CompilerServices.MethodImplOptions.NoInlining)]
    private static WeakReference SetAndForgetTheFirst(TestSource source, int count)
    {
        Endpoint[] endpoints = [.. Enumerable.Range(1, count).Select(i => new Endpoint(IPAddress.Parse($"10.0.0.{i}"), 80, zone: "a"))];
        source.Set(endpoints);
        return new WeakReference(endpoints[0]);
    }

    [Fact]
    public async Task Failures_and_the_recovery_of_the_source_keep_the_picker_without_rebuilding_it()
    {
        (ClientLbTestHost host, TestSource source) = Create("svc");
        await using ClientLbTestHost _ = host;
        source.Set(At(1), At(2));
        ServiceBalancer balancer = host.Registry.GetBalancer("svc");
        EndpointPicker picker = balancer.Picker;
        (long delta, long full) = balancer.RebuildCounts;

        source.Fail(new IOException("api unreachable"));
        source.Fail(new IOException("api still unreachable"));
        source.Set(At(2), At(1));
        Assert.Same(picker, balancer.Picker);
        Assert.Equal((delta, full), balancer.RebuildCounts);

        // A change after the recovery is a delta again.
        source.Change([At(3)]);
        Assert.Equal(3, balancer.EligibleCount);
        Assert.Equal((delta + 1, full), balancer.RebuildCounts);
    }

    [Fact]
    public async Task An_ejected_endpoint_that_leaves_frees_its_share_of_the_ejection_limit()
    {
        (ClientLbTestHost host, TestSource source) = Create("svc", new()
        {
            ["ClientLb:Services:svc:Health:ConsecutiveServerErrors"] = "1",
            ["ClientLb:Services:svc:Health:MaxEjectedShare"] = "0.5",
        });
        await using ClientLbTestHost _ = host;
        source.Set(At(1), At(2), At(3), At(4));
        ServiceBalancer balancer = host.Registry.GetBalancer("svc");
        BalancedEndpoint Find(int last) => balancer.KnownEndpoints.Single(e => e.Endpoint.Host == $"10.0.0.{last}");

        FailOnce(balancer, Find(1));
        Assert.True(Find(1).IsEjected);
        source.Change([At(5)], At(1));
        Assert.Equal(4, balancer.EligibleCount);

        // 4 endpoints, half may be ejected: 2 more, had the departed ejection been forgotten only 1.
        FailOnce(balancer, Find(2));
        FailOnce(balancer, Find(3));
        Assert.True(Find(2).IsEjected);
        Assert.True(Find(3).IsEjected);
        FailOnce(balancer, Find(4));
        Assert.False(Find(4).IsEjected);
        Assert.Equal(["10.0.0.4", "10.0.0.5"], balancer.Picker.Endpoints.Select(e => e.Endpoint.Host).Order());

        // A change while endpoints are ejected still keeps them out of the picker.
        source.Change([At(6)]);
        Assert.Equal(["10.0.0.4", "10.0.0.5", "10.0.0.6"], balancer.Picker.Endpoints.Select(e => e.Endpoint.Host).Order());
    }

    [Fact]
    public async Task An_endpoint_failing_active_health_checks_stays_out_through_later_changes()
    {
        (ClientLbTestHost host, TestSource source) = Create("svc");
        await using ClientLbTestHost _ = host;
        source.Set(At(1), At(2), At(3));
        ServiceBalancer balancer = host.Registry.GetBalancer("svc");
        BalancedEndpoint two = balancer.KnownEndpoints.Single(e => e.Endpoint.Host == "10.0.0.2");
        Assert.True(balancer.ReportHealthCheck(two, serving: false));

        source.Change([At(4)]);
        Assert.Equal(["10.0.0.1", "10.0.0.3", "10.0.0.4"], balancer.Picker.Endpoints.Select(e => e.Endpoint.Host).Order());
        Assert.True(balancer.ReportHealthCheck(two, serving: true));
        source.Change([At(5)], At(1));
        Assert.Equal(["10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"], balancer.Picker.Endpoints.Select(e => e.Endpoint.Host).Order());
    }

    [Fact]
    public async Task Hints_that_start_to_apply_through_a_delta_narrow_the_picker_and_widen_it_again()
    {
        (ClientLbTestHost host, TestSource source) = Create("svc", new() { ["ClientLb:Locality:Zone"] = "z1" });
        await using ClientLbTestHost _ = host;
        Endpoint Hinted(int last, string? zone) => new(IPAddress.Parse($"10.0.0.{last}"), 80, zoneHints: zone is null ? null : [zone]);
        source.Set(Hinted(1, "z1"), Hinted(2, "z2"), Hinted(3, null));
        ServiceBalancer balancer = host.Registry.GetBalancer("svc");
        Assert.Equal(TopologyLevel.Any, balancer.TopologyLevel);
        Assert.Equal(3, balancer.EligibleCount);

        // The last endpoint without a hint gets one: every ready endpoint is hinted now, and one names z1.
        source.Change([Hinted(3, "z2")]);
        Assert.Equal(TopologyLevel.ZoneHints, balancer.TopologyLevel);
        Assert.Equal(["10.0.0.1"], balancer.Picker.Endpoints.Select(e => e.Endpoint.Host));

        // An unhinted endpoint joins: kube-proxy's rule stops applying.
        source.Change([Hinted(4, null)]);
        Assert.Equal(TopologyLevel.Any, balancer.TopologyLevel);
        Assert.Equal(4, balancer.EligibleCount);

        // It becomes not ready (ready endpoints are all hinted again), then leaves.
        source.Change([new Endpoint(IPAddress.Parse("10.0.0.4"), 80, NotReady)]);
        Assert.Equal(TopologyLevel.ZoneHints, balancer.TopologyLevel);
        source.Change([], At(4));
        Assert.Equal(["10.0.0.1"], balancer.Picker.Endpoints.Select(e => e.Endpoint.Host));
    }

    /// <summary>Upserts up to two random endpoints and removes some of the rest, in the source and in the model.</summary>
    private static void RandomChange(TestSource source, Dictionary<string, Endpoint> model, Random random, Func<Endpoint> next, int removeOneIn)
    {
        var upserted = new Dictionary<string, Endpoint>();
        for (int i = random.Next(0, 3); i > 0; i--)
        {
            Endpoint e = next();
            upserted[e.Authority] = e;
        }
        Endpoint[] removed = [.. model.Values.Where(e => !upserted.ContainsKey(e.Authority) && random.Next(removeOneIn) == 0)];
        source.Change([.. upserted.Values], removed);
        foreach (Endpoint e in removed)
        {
            model.Remove(e.Authority);
        }
        foreach (Endpoint e in upserted.Values)
        {
            model[e.Authority] = e;
        }
    }

    private static void FailOnce(ServiceBalancer balancer, BalancedEndpoint endpoint)
    {
        long start = balancer.OnAttemptStart();
        balancer.OnAttemptEnd(endpoint, start, AttemptOutcome.ServerUnavailable);
    }
}
