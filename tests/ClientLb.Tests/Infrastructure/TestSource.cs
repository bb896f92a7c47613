using ClientLb.Endpoints;
using ClientLb.Names;
using ClientLb.Sources;

namespace ClientLb.Tests.Infrastructure;

/// <summary>A source the test drives by hand.</summary>
public sealed class TestSource(ServiceName service, TimeProvider? time = null) : EndpointSource(service, "test", "test source", time)
{
    private readonly TaskCompletionSource _disposed = new(TaskCreationOptions.RunContinuationsAsynchronously);

    /// <summary>Completes when the source has been disposed (its DisposeAsync ran to the end).</summary>
    public Task Disposed => _disposed.Task;

    public void Set(params Endpoint[] endpoints) => Publish(endpoints);

    public void Set(IEnumerable<Endpoint> endpoints) => Publish(endpoints);

    public void Change(Endpoint[] upserted, params Endpoint[] removed) => PublishChanges(upserted, removed);

    public void Fail(Exception error) => ReportFailure(error);

    protected override ValueTask DisposeCoreAsync()
    {
        _disposed.TrySetResult();
        return ValueTask.CompletedTask;
    }
}

/// <summary>Serves the services a test registers; a service whose source was disposed gets a new one.</summary>
public sealed class TestSourceFactory : IEndpointSourceFactory
{
    private readonly Dictionary<string, TestSource> _sources = new();

    public string Kind => "test";

    /// <summary>The clock of the sources it creates (their status times); the system clock when null.</summary>
    public TimeProvider? Time { get; init; }

    /// <summary>How many sources <see cref="TryCreate"/> handed out.</summary>
    public int Created { get; private set; }

    public TestSource Add(string service)
    {
        var source = new TestSource(ServiceName.Parse(service), Time);
        _sources[source.Service.Key] = source;
        return source;
    }

    /// <summary>The source the factory hands out now for <paramref name="service"/>.</summary>
    public TestSource this[string service] => _sources[ServiceName.Parse(service).Key];

    public IEndpointSource? TryCreate(ServiceName service)
    {
        if (!_sources.TryGetValue(service.Key, out TestSource? source))
        {
            return null;
        }
        if (source.Disposed.IsCompleted)
        {
            _sources[service.Key] = source = new TestSource(source.Service, Time);
        }
        Created++;
        return source;
    }
}
