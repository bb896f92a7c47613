using System.Globalization;
using ClientLb.Agent.Model;
using ClientLb.Agent.Ruleset;
using ClientLb.Agent.Validation;

namespace ClientLb.Agent.Tests.Unit;

/// <summary>
/// The <c>gen</c> value a service writes is the FNV hash of its element lines ("ip clientlb epx 10.96.0.1 . tcp . 80 . 0 :
/// ...") in ordinal order. A restart compares it with what an earlier build wrote, so the value must not depend on how the
/// lines are sorted and hashed: here it is recomputed the plain way, from the lines themselves.
/// </summary>
public sealed class GenerationHashTests
{
    public static TheoryData<int> Cases => [0, 1, 2, 3, 4];

    private static ServiceState Case(int which) => which switch
    {
        0 => Services.Tcp("indexed", "10.96.0.1", 80, 8080, "10.1.0.3", "10.1.0.1", "10.1.0.2"),
        1 => Services.WithAffinity(Services.Tcp("sticky", "10.96.0.2", 80, 8080, "10.1.0.1", "10.1.0.2"), 30),
        2 => Services.Tcp("many", "10.96.0.3", 443, 8443, [.. Enumerable.Range(1, 70).Select(i => $"10.1.3.{i}")]),
        3 => new ServiceState("default", "dual", ["10.96.0.4", "fd00:96::4"], [
            new ServicePortState("http", ServiceProtocol.Tcp, 80, [Services.Ep("10.1.0.4", 8080), Services.Ep("fd00:1::4", 8080)]),
            new ServicePortState("dns", ServiceProtocol.Udp, 53, [Services.Ep("fd00:1::5", 5353)])], 60),
        _ => Services.Tcp("empty", "10.96.0.5", 80, 8080),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_gen_value_is_the_hash_of_the_sorted_element_lines(int which)
    {
        Assert.True(ServiceValidator.TryValidate(Case(which), ValidationPolicy.Node, out ValidatedService? service, out string? error), error);
        ServicePlan plan = ServicePlan.For(service, hairpin: true);
        string[] lines = [.. plan.Elements.Where(e => e.Container.Kind != ContainerKind.Generation).Select(e => e.Container + " " + e.Text).Order(StringComparer.Ordinal)];
        ulong hash = lines.Aggregate(Fnv.Offset, Fnv.Hash);
        string value = ((uint)(hash >> 32)).ToString(CultureInfo.InvariantCulture) + " . " + ((uint)hash).ToString(CultureInfo.InvariantCulture);

        Element[] gens = [.. plan.Elements.Where(e => e.Container.Kind == ContainerKind.Generation)];
        Assert.NotEmpty(gens);
        Assert.All(gens, g => Assert.EndsWith(" : " + value, g.Text, StringComparison.Ordinal));
    }
}
