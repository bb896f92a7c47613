using System.Net;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Watching;
using ClientLb.Testing;
using Microsoft.Extensions.Logging.Abstractions;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Kubernetes.Tests.Watching;

/// <summary>An account that may get its Service but not list and watch Services: the Service is read with get.</summary>
public sealed class NamedServiceReaderTests
{
    private static readonly WatchSettings Settings =
        new(TimeSpan.FromMinutes(5), TimeSpan.FromMinutes(10), TimeSpan.FromSeconds(1), TimeSpan.FromSeconds(30)) { ServicePollInterval = TimeSpan.FromSeconds(30) };

    [Fact]
    public async Task A_refused_list_falls_back_to_get_and_the_poll_reports_each_change_once()
    {
        var api = new GetOnlyApi { Current = Svc("5") };
        var time = new TrackingTimeProvider();
        var reader = new NamedServiceReader(api, "default", "payments", Settings, time, NullLogger.Instance);

        KubernetesList<Service> list = await reader.ListAsync(CancellationToken.None);
        Assert.Equal("5", list.Metadata.ResourceVersion);
        Assert.Equal("payments", Assert.Single(list.Items).Metadata.Name);

        // Each step waits until the poll has armed its next timer, so time only moves while the poll waits on it.
        await using IWatchStream<Service> stream = await reader.WatchAsync("5", TimeSpan.FromMinutes(5), CancellationToken.None);
        await using IAsyncEnumerator<WatchEvent<Service>> events = stream.ReadAsync(CancellationToken.None).GetAsyncEnumerator();
        ValueTask<bool> next = events.MoveNextAsync();
        await time.WaitForTimerAsync(TimeSpan.FromSeconds(30));
        time.Advance(TimeSpan.FromSeconds(30)); // unchanged: no event, and the poll waits again
        await time.WaitForTimerAsync(TimeSpan.FromSeconds(30));
        Assert.False(next.IsCompleted);
        api.Current = Svc("6");
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(await next);
        Assert.Equal((WatchEventTypes.Modified, "6"), (events.Current.Type, events.Current.Object!.Metadata.ResourceVersion));

        next = events.MoveNextAsync();
        await time.WaitForTimerAsync(TimeSpan.FromSeconds(30));
        api.Current = null;
        time.Advance(TimeSpan.FromSeconds(30));
        Assert.True(await next);
        Assert.Equal(WatchEventTypes.Deleted, events.Current.Type);
        Assert.Equal(4, api.Gets); // the list's get and one per poll: nothing read twice
    }

    [Fact]
    public async Task Without_get_either_the_error_is_the_lists_refusal_naming_list_on_services()
    {
        var api = new GetOnlyApi { GetAllowed = false };
        var reader = new NamedServiceReader(api, "default", "payments", Settings, new FakeTimeProvider(), NullLogger.Instance);
        KubernetesApiException error = await Assert.ThrowsAsync<KubernetesApiException>(() => reader.ListAsync(CancellationToken.None));
        Assert.Equal("list", error.Verb);
    }

    [Fact]
    public async Task A_get_that_fails_otherwise_is_reported_as_itself_not_as_the_lists_refusal()
    {
        var api = new GetOnlyApi { GetAllowed = false, GetRefusal = HttpStatusCode.InternalServerError };
        var reader = new NamedServiceReader(api, "default", "payments", Settings, new FakeTimeProvider(), NullLogger.Instance);
        KubernetesApiException error = await Assert.ThrowsAsync<KubernetesApiException>(() => reader.ListAsync(CancellationToken.None));
        Assert.Equal(("get", HttpStatusCode.InternalServerError), (error.Verb, error.StatusCode));
    }

    [Fact]
    public async Task When_list_is_allowed_again_the_service_is_watched()
    {
        var api = new GetOnlyApi { Current = Svc("5") };
        var reader = new NamedServiceReader(api, "default", "payments", Settings, new FakeTimeProvider(), NullLogger.Instance);
        await reader.ListAsync(CancellationToken.None);
        api.ListAllowed = true;
        await reader.ListAsync(CancellationToken.None);
        await reader.WatchAsync("5", TimeSpan.FromMinutes(5), CancellationToken.None);
        Assert.Equal(1, api.Watches);
    }

    private static Service Svc(string version) => new() { Metadata = new ObjectMeta { Name = "payments", Namespace = "default", ResourceVersion = version } };

    private sealed class GetOnlyApi : IKubernetesApi
    {
        public volatile Service? Current;
        public bool ListAllowed;
        public bool GetAllowed = true;
        public HttpStatusCode GetRefusal = HttpStatusCode.Forbidden;
        public int Gets;
        public int Watches;

        public string Description => "get-only";

        private static KubernetesApiException Forbidden(string verb) =>
            new(verb, "api/v1/namespaces/default/services", HttpStatusCode.Forbidden, new Status { Message = $"cannot {verb} resource \"services\"" });

        public Task<KubernetesList<EndpointSlice>> ListEndpointSlicesAsync(string @namespace, ListOptions options, CancellationToken cancellationToken) =>
            throw new NotSupportedException("slices are not part of these tests");

        public Task<IWatchStream<EndpointSlice>> WatchEndpointSlicesAsync(string @namespace, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken) =>
            throw new NotSupportedException("slices are not part of these tests");

        public Task<KubernetesList<Service>> ListServicesAsync(string @namespace, ListOptions options, CancellationToken cancellationToken) =>
            ListAllowed ? Task.FromResult(new KubernetesList<Service> { Metadata = new ListMeta { ResourceVersion = "7" }, Items = Current is null ? [] : [Current] })
                : throw Forbidden("list");

        public Task<IWatchStream<Service>> WatchServicesAsync(string @namespace, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken)
        {
            Watches++;
            return ListAllowed ? Task.FromResult<IWatchStream<Service>>(new Empty()) : throw Forbidden("watch");
        }

        public Task<Service?> GetServiceAsync(string @namespace, string name, CancellationToken cancellationToken)
        {
            Interlocked.Increment(ref Gets);
            return GetAllowed ? Task.FromResult(Current)
                : throw new KubernetesApiException("get", "api/v1/namespaces/default/services/payments", GetRefusal, new Status { Message = "refused" });
        }

        private sealed class Empty : IWatchStream<Service>
        {
            public async IAsyncEnumerable<WatchEvent<Service>> ReadAsync([System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken)
            {
                await Task.CompletedTask;
                yield break;
            }

            public ValueTask DisposeAsync() => ValueTask.CompletedTask;
        }
    }
}
