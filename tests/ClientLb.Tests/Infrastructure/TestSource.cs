using ClientLb.Endpoints;
using ClientLb.ServiceDiscovery;
using ClientLb.Sources;

namespace ClientLb.Tests.Infrastructure;

/// <summary>A source the test drives by hand.</summary>
public sealed class TestSource(ServiceName service, TimeProvider? time = null) : EndpointSource(service, "test", "test source", time)
{
    public void Set(params Endpoint[] endpoints) => Publish(endpoints);

    public void Change(Endpoint[] upserted, params Endpoint[] removed) => PublishChanges(upserted, removed);

    public void Fail(Exception error) => ReportFailure(error);
}

/// <summary>Serves the services a test registers.</summary>
public sealed class TestSourceFactory : IEndpointSourceFactory
{
    private readonly Dictionary<string, TestSource> _sources = new();

    public string Kind => "test";

    public TestSource Add(string service)
    {
        var source = new TestSource(ServiceName.Parse(service));
        _sources[source.Service.Key] = source;
        return source;
    }

    public IEndpointSource? TryCreate(ServiceName service) => _sources.GetValueOrDefault(service.Key);
}
