using System.Net;
using ClientLb.Balancing;
using ClientLb.Eligibility;
using ClientLb.Endpoints;
using ClientLb.Sources;
using ClientLb.Tests.Infrastructure;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Tests.Http;

/// <summary>The read-only diagnostics view of a balancer: eligibility and its reasons, ejection, slow start, budget.</summary>
public sealed class BalancerDiagnosticsTests : IAsyncLifetime
{
    private readonly List<TestBackend> _backends = [];
    private readonly FakeTimeProvider _time = new();

    public async Task InitializeAsync()
    {
        for (int i = 0; i < 3; i++)
        {
            _backends.Add(await TestBackend.StartAsync(((char)('a' + i)).ToString(), $"127.0.109.{i + 2}"));
        }
    }

    public async Task DisposeAsync()
    {
        foreach (TestBackend backend in _backends)
        {
            await backend.DisposeAsync();
        }
    }

    [Fact]
    public async Task An_ejected_endpoint_shows_its_reason_and_until_when_and_the_others_stay_in_rotation()
    {
        Dictionary<string, string?> config = ClientLbTestHost.Endpoints("viewed", [.. _backends.Select(b => b.Authority)]);
        config["ClientLb:Services:viewed:Policy"] = "RoundRobin";
        config["ClientLb:Services:viewed:Health:ConsecutiveServerErrors"] = "3";
        config["ClientLb:Services:viewed:Health:BaseEjectionTime"] = "00:00:30";
        config["ClientLb:Services:viewed:Health:SlowStartWindow"] = "00:00:10";
        await using var host = new ClientLbTestHost(config, services => services.AddSingleton<TimeProvider>(_time));
        HttpClient client = host.CreateClient("http://viewed");
        ServiceBalancer balancer = host.Registry.GetBalancer("http://viewed");
        _backends[0].StatusCode = 503;
        for (int i = 0; i < 20; i++)
        {
            using HttpResponseMessage response = await client.GetAsync("/");
        }

        BalancerDiagnostics view = balancer.GetDiagnostics();
        Assert.Equal("config", view.SourceKind);
        Assert.Equal("RoundRobin", view.Policy);
        Assert.Equal(2, view.InRotation);
        Assert.Equal(TimeSpan.Zero, view.Staleness);
        Assert.True(view.RetryBudget.Requests >= 20);
        Assert.True(view.RetryBudget.Retries >= 3);
        EndpointDiagnostics bad = view.Endpoints.Single(e => e.Endpoint.Authority == _backends[0].Authority);
        Assert.True(bad.Eligible);
        Assert.False(bad.InRotation);
        Assert.Equal("server_errors", bad.EjectionReason);
        Assert.Equal(_time.GetUtcNow() + TimeSpan.FromSeconds(30), bad.EjectedUntil);
        Assert.StartsWith("ejected (server_errors) until ", bad.OutOfRotationReason);
        Assert.All(view.Endpoints.Where(e => e != bad), e =>
        {
            Assert.True(e.InRotation);
            Assert.Null(e.OutOfRotationReason);
            Assert.NotNull(e.Latency);
            Assert.Equal(0, e.Outstanding);
        });

        // Back after the ejection time: in rotation again, warming up (slow start) from a 10% share.
        _backends[0].StatusCode = 200;
        _time.Advance(TimeSpan.FromSeconds(31));
        using (await client.GetAsync("/"))
        {
        }
        EndpointDiagnostics returned = balancer.GetDiagnostics().Endpoints.Single(e => e.Endpoint.Authority == _backends[0].Authority);
        Assert.True(returned.InRotation);
        Assert.Null(returned.EjectedUntil);
        Assert.Null(returned.EjectionReason);
        Assert.Equal(0.1, returned.SlowStartShare);
        _time.Advance(TimeSpan.FromSeconds(5));
        Assert.Equal(0.5, balancer.GetDiagnostics().Endpoints.Single(e => e.Endpoint.Authority == _backends[0].Authority).SlowStartShare!.Value, 3);
    }

    [Fact]
    public async Task Endpoints_that_are_not_eligible_carry_the_reason_of_the_one_eligibility_rule()
    {
        var factory = new TestSourceFactory();
        TestSource source = factory.Add("conditions");
        await using var host = new ClientLbTestHost(new Dictionary<string, string?>(), services => services.AddSingleton<IEndpointSourceFactory>(factory));
        ServiceBalancer balancer = host.Registry.GetBalancer("http://conditions");
        source.Set(
            new Endpoint(IPAddress.Parse("10.1.0.1"), 80, zone: "z1", nodeName: "n1"),
            new Endpoint(IPAddress.Parse("10.1.0.2"), 80, new EndpointConditions(false, true, true)),
            new Endpoint(IPAddress.Parse("10.1.0.3"), 80, new EndpointConditions(false, false, false)));

        BalancerDiagnostics view = balancer.GetDiagnostics();
        Assert.Equal(EndpointSelectionKind.Ready, view.SelectionKind);
        Assert.Equal(1, view.SnapshotVersion);
        Assert.Equal(["z1", null, null], view.Endpoints.Select(e => e.Endpoint.Zone));
        Assert.Equal([null, "not ready (terminating, still serving)", "not ready, not serving"], view.Endpoints.Select(e => e.IneligibleReason));
        Assert.Equal([true, false, false], view.Endpoints.Select(e => e.InRotation));

        // The last ready one goes: the serving+terminating fallback admits the second, and the third stays out.
        source.Set(view.Endpoints.Skip(1).Select(e => e.Endpoint).ToArray());
        view = balancer.GetDiagnostics();
        Assert.Equal(EndpointSelectionKind.ServingTerminatingFallback, view.SelectionKind);
        Assert.Equal([null, "not serving"], view.Endpoints.Select(e => e.IneligibleReason));

        // A failing source keeps its endpoints and says how stale they are.
        source.Fail(new InvalidOperationException("watch broke"));
        _ = view;
        BalancerDiagnostics failing = balancer.GetDiagnostics();
        Assert.Equal("watch broke", failing.SourceStatus.LastError!.Message);
        Assert.Equal(2, failing.Endpoints.Count);

        source.Set();
        Assert.Equal("the service has no endpoints", balancer.GetDiagnostics().NoEndpointsReason);
    }
}
