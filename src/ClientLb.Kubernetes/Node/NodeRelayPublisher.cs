using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Diagnostics;
using ClientLb.Kubernetes.Node.Protocol;
using ClientLb.Kubernetes.Watching;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClientLb.Kubernetes.Node;

/// <summary>
/// The server side of the node relay (gRPC <c>clientlb.relay.v1.NodeRelay</c>), without its transport: shared watches of
/// the Services SDKs ask for (the SDK's own watch sharing: one watch per Service, one per namespace past
/// <see cref="KubernetesSourceOptions.NamespaceWatchThreshold"/>, released with the last stream), and the service that
/// streams each as a snapshot then deltas, to callers whose bearer token <see cref="IRelayAuthorizer"/> allows. The
/// protocol stays inside this package, next to its client; a host (the agent's Kestrel on a Unix socket) adds the
/// methods with <see cref="BindService"/>.
/// </summary>
public sealed class NodeRelayPublisher : IAsyncDisposable
{
    private readonly KubernetesWatchManager _views;
    private readonly KubernetesMetrics _metrics;
    private readonly RelayState _state;

    /// <summary>Creates the publisher; a Service is watched from the first stream that asks for it.</summary>
    /// <param name="api">The API client (the host's own credentials) for the watches.</param>
    /// <param name="authorizer">Decides what each caller's token may read.</param>
    /// <param name="authorizationRecheck">How often an open stream's token is checked again: a revoked right ends the stream.</param>
    /// <param name="watchOptions">Watch timing and sharing (the SDK's options); the defaults when null.</param>
    /// <param name="loggerFactory">Loggers.</param>
    /// <param name="timeProvider">The clock of the watches and re-checks.</param>
    /// <exception cref="ArgumentOutOfRangeException"><paramref name="authorizationRecheck"/> is not positive.</exception>
    public NodeRelayPublisher(KubernetesApiClient api, IRelayAuthorizer authorizer, TimeSpan authorizationRecheck, KubernetesSourceOptions? watchOptions = null,
        ILoggerFactory? loggerFactory = null, TimeProvider? timeProvider = null)
    {
        ArgumentNullException.ThrowIfNull(api);
        ArgumentNullException.ThrowIfNull(authorizer);
        ArgumentOutOfRangeException.ThrowIfLessThanOrEqual(authorizationRecheck, TimeSpan.Zero);
        ILoggerFactory loggers = loggerFactory ?? NullLoggerFactory.Instance;
        TimeProvider time = timeProvider ?? TimeProvider.System;
        _metrics = new KubernetesMetrics();
        _views = new KubernetesWatchManager(api, watchOptions ?? new KubernetesSourceOptions(), time, loggers.CreateLogger("ClientLb.Agent.Relay.Watch"), _metrics);
        _state = new RelayState(_views, authorizer, authorizationRecheck, time, loggers.CreateLogger("ClientLb.Agent.Relay"));
    }

    /// <summary>The Services followed now, as <c>name.namespace</c>, and how many streams follow each.</summary>
    public IReadOnlyList<(string Service, int References)> Watched => [.. _views.Views.Select(static v => (v.Key, v.References))];

    /// <summary>Adds the relay's methods (<c>Watch</c>, <c>List</c>) to a gRPC host through its binder.</summary>
    public void BindService(ServiceBinderBase binder)
    {
        ArgumentNullException.ThrowIfNull(binder);
        NodeRelay.BindService(binder, new NodeRelayService(_state));
    }

    /// <summary>Stops every watch (open streams should be ended by the host first).</summary>
    public async ValueTask DisposeAsync()
    {
        await _views.DisposeAsync().ConfigureAwait(false);
        _metrics.Dispose();
    }
}
