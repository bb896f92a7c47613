using System.Collections.Immutable;
using System.Net;
using ClientLb.Eligibility;
using ClientLb.Endpoints;

namespace ClientLb.Tests.Eligibility;

/// <summary>
/// The eligible-set builder applies a change to its counts (what the balancer's delta path uses) and reads a whole list
/// (the full rebuild, the agent): both must decide the same, and what a change reports (joined, left, changed in place)
/// must turn the previous eligible set into the new one.
/// </summary>
public sealed class EligibleSetBuilderTests
{
    private static readonly EndpointConditions NotReady = new(false, false, false);
    private static readonly EndpointConditions Terminating = new(false, true, true);

    [Theory]
    [InlineData(null, null, null)]
    [InlineData("n1", "z1", null)]
    [InlineData("n1", "z1", 0.7)]
    [InlineData(null, "z1", 0.5)]
    public void Every_change_applied_to_the_counts_decides_as_a_build_of_the_whole_list(string? node, string? zone, double? share)
    {
        var random = new Random((node?.Length ?? 0) + (zone?.Length ?? 0) * 3 + (int)((share ?? 0) * 10) * 7);
        string? Pick(params string?[] values) => values[random.Next(values.Length)];
        Endpoint Random() => new(IPAddress.Parse($"10.0.0.{random.Next(1, 30)}"), 80,
            random.Next(6) == 0 ? Terminating : random.Next(8) == 0 ? NotReady : EndpointConditions.ReadyAndServing,
            zone: Pick("z1", "z2", null), nodeName: Pick("n1", "n2", "n3"),
            zoneHints: random.Next(10) == 0 ? null : [Pick("z1", "z2")!], nodeHints: random.Next(10) == 0 ? null : [Pick("n1", "n2")!]);
        var model = new Dictionary<string, Endpoint>();
        foreach (Endpoint e in Enumerable.Range(0, 12).Select(_ => Random()))
        {
            model[e.Authority] = e;
        }
        var builder = new EligibleSetBuilder(nodeName: node, zone: zone, minHealthyShare: share);
        var eligible = builder.Build([.. model.Values]).Selection.Eligible.ToDictionary(e => e.Authority);
        int applied = 0, refused = 0;
        var levels = new HashSet<TopologyLevel>();

        for (int step = 0; step < 1500; step++)
        {
            EndpointChanges changes = RandomChange(model, random, Random);
            var reported = new Recorder(eligible);
            if (builder.TryApply(changes, ref reported))
            {
                applied++;
            }
            else
            {
                refused++;
                eligible = builder.Build([.. model.Values]).Selection.Eligible.ToDictionary(e => e.Authority);
            }

            EligibleSet expected = new EligibleSetBuilder(nodeName: node, zone: zone, minHealthyShare: share).Build([.. model.Values]);
            Assert.Equal((expected.Selection.Kind, expected.Selection.Total, expected.Selection.Ready, expected.Selection.ServingTerminating),
                (builder.Kind, builder.Total, builder.Ready, builder.ServingTerminating));
            Assert.Equal(expected.Level, builder.Level);
            Assert.Equal(expected.Selection.Eligible.Select(e => e.Authority).Order(), eligible.Keys.Order());
            Assert.All(eligible, pair => Assert.Same(model[pair.Key], pair.Value));
            // The level the counts give is TopologyFilter's over the list, as the model tests of the balancer check too.
            Assert.Equal(TopologyFilter.Choose(expected.Selection.Eligible, e => e, _ => true, node, zone, share), builder.Level);
            levels.Add(builder.Level);
        }
        Assert.True(applied > 1000, $"only {applied} of 1500 changes applied to the counts ({refused} refused)");
        if (node is not null)
        {
            Assert.Contains(TopologyLevel.NodeHints, levels);
        }
    }

    [Fact]
    public void A_change_that_flips_the_condition_rule_is_refused_and_changes_nothing()
    {
        Endpoint ready = At(1), terminating = At(2, Terminating);
        var builder = new EligibleSetBuilder();
        builder.Build([ready, terminating]);
        var reported = new Recorder(new Dictionary<string, Endpoint> { [ready.Authority] = ready });

        Assert.False(builder.TryApply(new EndpointChanges([], [], [ready]), ref reported));
        Assert.Equal((EndpointSelectionKind.Ready, 2, 1, 1), (builder.Kind, builder.Total, builder.Ready, builder.ServingTerminating));
        Assert.Equal([ready.Authority], reported.Eligible.Keys);
    }

    [Fact]
    public void Changes_are_refused_while_the_scheme_rule_depends_on_the_whole_list_or_the_locality_moved()
    {
        var schemes = new EligibleSetBuilder(["https", "http"]);
        EligibleSet set = schemes.Build([At(1, scheme: "https"), At(2, scheme: "http"), At(3)]);
        Assert.Equal(["10.0.0.1:80", "10.0.0.3:80"], set.Selection.Eligible.Select(e => e.Authority));
        var reported = new Recorder([]);
        Assert.False(schemes.TryApply(new EndpointChanges([At(4)], [], []), ref reported));

        var plain = new EligibleSetBuilder(["https", "http"]);
        plain.Build([At(1), At(2)]);
        Assert.True(plain.TryApply(new EndpointChanges([At(3)], [], []), ref reported));
        Assert.False(plain.TryApply(new EndpointChanges([At(4, scheme: "http")], [], []), ref reported));

        plain.Locate("n1", null, null);
        Assert.False(plain.TryApply(new EndpointChanges([At(5)], [], []), ref reported));
    }

    [Fact]
    public void The_agent_reads_the_same_level_and_local_endpoints_the_balancer_keeps_with_every_endpoint_healthy()
    {
        Endpoint[] endpoints =
        [
            new(IPAddress.Parse("10.0.0.1"), 80, zone: "z1", nodeName: "n1"),
            new(IPAddress.Parse("10.0.0.2"), 80, zone: "z1", nodeName: "n2"),
            new(IPAddress.Parse("10.0.0.3"), 80, zone: "z2", nodeName: "n3"),
            new(IPAddress.Parse("10.0.0.4"), 80, NotReady, zone: "z1", nodeName: "n1"),
        ];
        EligibleSet node = new EligibleSetBuilder(nodeName: "n1", zone: "z1", minHealthyShare: 0.7).Build([.. endpoints]);
        Assert.Equal(TopologyLevel.Node, node.Level);
        Assert.Equal(["10.0.0.1"], node.Local.Select(e => e.Host));

        EligibleSet zone = new EligibleSetBuilder(nodeName: "n9", zone: "z1", minHealthyShare: 0.7).Build([.. endpoints]);
        Assert.Equal(TopologyLevel.Zone, zone.Level);
        Assert.Equal(["10.0.0.1", "10.0.0.2"], zone.Local.Select(e => e.Host));

        EligibleSet all = new EligibleSetBuilder().Build([.. endpoints]);
        Assert.Equal(TopologyLevel.Any, all.Level);
        Assert.Equal(["10.0.0.1", "10.0.0.2", "10.0.0.3"], all.Local.Select(e => e.Host));
        Assert.Equal("the service has no endpoints", new EligibleSetBuilder().Build([]).Selection.EmptyReason);
    }

    private static Endpoint At(int last, EndpointConditions? conditions = null, string? scheme = null) =>
        new(IPAddress.Parse($"10.0.0.{last}"), 80, conditions, scheme: scheme);

    /// <summary>Upserts up to two random endpoints and removes some of the rest, in the model; returns the change.</summary>
    private static EndpointChanges RandomChange(Dictionary<string, Endpoint> model, Random random, Func<Endpoint> next)
    {
        var upserted = new Dictionary<string, Endpoint>();
        for (int i = random.Next(0, 3); i > 0; i--)
        {
            Endpoint e = next();
            upserted[e.Authority] = e;
        }
        Endpoint[] removed = [.. model.Values.Where(e => !upserted.ContainsKey(e.Authority) && random.Next(10) == 0)];
        ImmutableArray<Endpoint>.Builder added = ImmutableArray.CreateBuilder<Endpoint>();
        ImmutableArray<EndpointUpdate>.Builder updated = ImmutableArray.CreateBuilder<EndpointUpdate>();
        foreach (Endpoint e in upserted.Values)
        {
            if (model.TryGetValue(e.Authority, out Endpoint? previous))
            {
                updated.Add(new EndpointUpdate(previous, e));
            }
            else
            {
                added.Add(e);
            }
            model[e.Authority] = e;
        }
        foreach (Endpoint e in removed)
        {
            model.Remove(e.Authority);
        }
        return new EndpointChanges(added.ToImmutable(), updated.ToImmutable(), [.. removed]);
    }

    /// <summary>Applies what the builder reports to a copy of the eligible set, checking each report against it.</summary>
    private struct Recorder(Dictionary<string, Endpoint> eligible) : IEligibleSetChanges
    {
        public readonly Dictionary<string, Endpoint> Eligible => eligible;

        public readonly void Joined(Endpoint endpoint) => Assert.True(eligible.TryAdd(endpoint.Authority, endpoint), $"{endpoint} joined twice");

        public readonly void Left(Endpoint endpoint) => Assert.True(eligible.Remove(endpoint.Authority), $"{endpoint} left without being eligible");

        public readonly void Changed(Endpoint previous, Endpoint current)
        {
            Assert.Same(previous, eligible[current.Authority]);
            eligible[current.Authority] = current;
        }
    }
}
