using System.Collections.Immutable;
using System.Net;
using ClientLb.Eligibility;
using ClientLb.Endpoints;

namespace ClientLb.Tests.Endpoints;

public class EndpointSelectorTests
{
    private static Endpoint E(int last, bool ready, bool serving, bool terminating) =>
        new(IPAddress.Parse($"127.0.0.{last}"), 80, new EndpointConditions(ready, serving, terminating));

    [Fact]
    public void Ready_endpoints_win()
    {
        EndpointSelection selection = EndpointSelector.Select([E(1, true, true, false), E(2, false, true, true), E(3, false, false, false)]);
        Assert.Equal(EndpointSelectionKind.Ready, selection.Kind);
        Assert.Equal(["127.0.0.1:80"], selection.Eligible.Select(e => e.Authority));
    }

    [Fact]
    public void Serving_terminating_endpoints_are_the_fallback_when_none_is_ready()
    {
        EndpointSelection selection = EndpointSelector.Select([E(1, false, true, true), E(2, false, false, true), E(3, false, false, false)]);
        Assert.Equal(EndpointSelectionKind.ServingTerminatingFallback, selection.Kind);
        Assert.Equal(["127.0.0.1:80"], selection.Eligible.Select(e => e.Authority));
    }

    [Fact]
    public void Nothing_eligible_says_why()
    {
        EndpointSelection selection = EndpointSelector.Select([E(1, false, false, false), E(2, false, false, false), E(3, false, false, true)]);
        Assert.Empty(selection.Eligible);
        Assert.Equal("no ready endpoints; 3 not ready", selection.EmptyReason);
        Assert.Equal("the service has no endpoints", EndpointSelector.Select(ImmutableArray<Endpoint>.Empty).EmptyReason);
    }
}
