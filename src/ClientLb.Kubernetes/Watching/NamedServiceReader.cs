using System.Net;
using System.Runtime.CompilerServices;
using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Diagnostics;
using ClientLb.Kubernetes.Model;
using Microsoft.Extensions.Logging;

namespace ClientLb.Kubernetes.Watching;

/// <summary>
/// The Service side of a one-service scope, for an account that may <c>get</c> the Service but not list and watch
/// Services (least privilege: the EndpointSlices carry the endpoints; the Service only its ports and affinity). Lists and
/// watches when allowed; when the list is refused with 403 and a get is allowed, the "list" is that get and the "watch"
/// reads the Service again every <see cref="WatchSettings.ServicePollInterval"/>, reporting what changed as watch events,
/// so <see cref="ResourceWatcher{T}"/> runs it like any other. Each re-list tries list and watch again first.
/// </summary>
internal sealed class NamedServiceReader(IKubernetesApi api, string ns, string name, WatchSettings settings, TimeProvider time, ILogger logger)
{
    private readonly ListOptions _byName = new(FieldSelector: $"metadata.name={name}");
    private volatile Service? _last;
    private volatile bool _polling;

    public async Task<KubernetesList<Service>> ListAsync(CancellationToken cancellationToken)
    {
        try
        {
            KubernetesList<Service> list = await api.ListServicesAsync(ns, _byName, cancellationToken).ConfigureAwait(false);
            if (_polling)
            {
                _polling = false;
                Log.ServiceWatchedAgain(logger, ns, name);
            }
            return list;
        }
        catch (KubernetesApiException refused) when (refused.StatusCode == HttpStatusCode.Forbidden)
        {
            Service? service;
            try
            {
                service = await api.GetServiceAsync(ns, name, cancellationToken).ConfigureAwait(false);
            }
            catch (KubernetesApiException getRefused) when (getRefused.StatusCode == HttpStatusCode.Forbidden)
            {
                // Neither list nor get: the list's refusal names the verb and resource to grant. Any other error of the
                // get (a 500, a timeout) is its own and propagates as it is.
                System.Runtime.ExceptionServices.ExceptionDispatchInfo.Throw(refused);
                throw;
            }
            if (!_polling)
            {
                _polling = true;
                Log.ServicePolled(logger, ns, name, settings.ServicePollInterval, refused.Status?.Message ?? refused.Message);
            }
            _last = service;
            return new KubernetesList<Service>
            {
                Metadata = new ListMeta { ResourceVersion = service?.Metadata.ResourceVersion ?? "0" },
                Items = service is null ? [] : [service],
            };
        }
    }

    public Task<IWatchStream<Service>> WatchAsync(string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken) =>
        _polling ? Task.FromResult<IWatchStream<Service>>(new PolledStream(this, timeout))
            : api.WatchServicesAsync(ns, _byName, resourceVersion, timeout, cancellationToken);

    /// <summary>Reads the Service every poll interval until the watch's own timeout, yielding only what changed.</summary>
    private async IAsyncEnumerable<WatchEvent<Service>> PollAsync(TimeSpan timeout, [EnumeratorCancellation] CancellationToken cancellationToken)
    {
        TimeSpan interval = settings.ServicePollInterval;
        DateTimeOffset end = time.GetUtcNow() + timeout;
        while (time.GetUtcNow() + interval <= end)
        {
            await Task.Delay(interval, time, cancellationToken).ConfigureAwait(false);
            Service? now = await api.GetServiceAsync(ns, name, cancellationToken).ConfigureAwait(false);
            Service? last = _last;
            _last = now;
            if (now is null)
            {
                if (last is not null)
                {
                    yield return new WatchEvent<Service> { Type = WatchEventTypes.Deleted, Object = last };
                }
            }
            else if (last is null || now.Metadata.ResourceVersion != last.Metadata.ResourceVersion)
            {
                yield return new WatchEvent<Service> { Type = last is null ? WatchEventTypes.Added : WatchEventTypes.Modified, Object = now };
            }
        }
    }

    private sealed class PolledStream(NamedServiceReader reader, TimeSpan timeout) : IWatchStream<Service>
    {
        public IAsyncEnumerable<WatchEvent<Service>> ReadAsync(CancellationToken cancellationToken) => reader.PollAsync(timeout, cancellationToken);

        public ValueTask DisposeAsync() => ValueTask.CompletedTask;
    }
}
