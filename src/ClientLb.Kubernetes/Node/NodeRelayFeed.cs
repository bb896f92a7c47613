using System.Collections.Immutable;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Node.Protocol;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Watching;
using Grpc.Core;
using Microsoft.Extensions.Logging;

namespace ClientLb.Kubernetes.Node;

/// <summary>
/// Feeds one view from the relay's <c>Watch</c> stream: the snapshot replaces the view's state, each delta changes it
/// (the Service, slices upserted or removed), and a failure the agent relays keeps the state and reports the error. A
/// stream that cannot start or breaks reports <see cref="NodeRelayUnavailableException"/> and is retried with backoff
/// on the <see cref="TimeProvider"/>; an absent socket is not even dialled.
/// </summary>
internal sealed class NodeRelayFeed : IAsyncDisposable
{
    private readonly NodeRelayConnection _connection;
    private readonly ServiceView _view;
    private readonly NodeRelayOptions _options;
    private readonly TimeProvider _time;
    private readonly ILogger _logger;
    private readonly CancellationTokenSource _stopping = new();
    private Task _running = Task.CompletedTask;

    public NodeRelayFeed(NodeRelayConnection connection, ServiceView view, NodeRelayOptions options, TimeProvider time, ILogger logger)
    {
        _connection = connection;
        _view = view;
        _options = options;
        _time = time;
        _logger = logger;
    }

    public void Start()
    {
        // The view has no feeder until the first snapshot: report the relay down at once when there is no socket.
        _view.SwitchFeeder(this, _view.Data, healthy: true);
        _running = Task.Run(() => RunAsync(_stopping.Token));
    }

    private async Task RunAsync(CancellationToken stoppingToken)
    {
        TimeSpan delay = _options.ReconnectDelay;
        while (!stoppingToken.IsCancellationRequested)
        {
            string problem;
            Exception? cause = null;
            bool received = false;
            if (!_connection.SocketExists)
            {
                problem = $"the node relay socket {_connection.SocketPath} does not exist (is the ClientLb agent running on this node?)";
            }
            else
            {
                try
                {
                    received = await FollowAsync(stoppingToken).ConfigureAwait(false);
                    problem = $"the node relay at {_connection.SocketPath} ended the stream";
                }
                catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
                {
                    return;
                }
                catch (RpcException ex)
                {
                    problem = $"the node relay at {_connection.SocketPath} failed: {ex.Status.StatusCode} {ex.Status.Detail}";
                    cause = ex;
                }
                catch (TimeoutException ex)
                {
                    problem = $"the node relay at {_connection.SocketPath} did not answer: {ex.Message}";
                    cause = ex;
                }
                catch (InvalidDataException ex)
                {
                    problem = $"the node relay at {_connection.SocketPath} sent bad data: {ex.Message}";
                    cause = ex;
                }
            }
            if (received)
            {
                delay = _options.ReconnectDelay; // it worked for a while: start the backoff over
            }
            _logger.LogDebug("{Service}: {Problem}; trying the relay again in {Delay}", _view.Key, problem, delay);
            _view.Fail(this, new NodeRelayUnavailableException(problem, cause));
            try
            {
                await Task.Delay(delay, _time, stoppingToken).ConfigureAwait(false);
            }
            catch (OperationCanceledException)
            {
                return;
            }
            delay = delay * 2 > _options.MaxReconnectDelay ? _options.MaxReconnectDelay : delay * 2;
        }
    }

    /// <summary>Follows one stream until it ends; true when it delivered at least the snapshot.</summary>
    private async Task<bool> FollowAsync(CancellationToken stoppingToken)
    {
        using var callCancel = CancellationTokenSource.CreateLinkedTokenSource(stoppingToken);
        // No snapshot within the timeout: the agent accepted the call but does not answer; give up on this stream.
        using ITimer snapshotDue = _time.CreateTimer(static s => ((CancellationTokenSource)s!).Cancel(), callCancel, _options.SnapshotTimeout, Timeout.InfiniteTimeSpan);
        using AsyncServerStreamingCall<WatchEvent> call = _connection.Client.Watch(new WatchRequest { Namespace = _view.Namespace, Name = _view.Name }, cancellationToken: callCancel.Token);
        ServiceSlices? state = null;
        ulong expected = 1;
        await foreach (WatchEvent e in ReadAsync(call, callCancel.Token, stoppingToken).ConfigureAwait(false))
        {
            snapshotDue.Change(Timeout.InfiniteTimeSpan, Timeout.InfiniteTimeSpan);
            if (e.Version != expected)
            {
                throw new InvalidDataException($"event version {e.Version} where {expected} was due");
            }
            expected++;
            switch (e.KindCase)
            {
                case WatchEvent.KindOneofCase.Snapshot:
                    state = FromSnapshot(e.Snapshot);
                    _view.SwitchFeeder(this, state, healthy: true);
                    break;
                case WatchEvent.KindOneofCase.Delta when state is not null:
                    state = Apply(state, e.Delta);
                    _view.Apply(this, state);
                    break;
                case WatchEvent.KindOneofCase.Failure when state is not null:
                    _view.Fail(this, new KubernetesRelayedException(e.Failure.Message));
                    break;
                default:
                    throw new InvalidDataException($"event {e.Version} is a {e.KindCase} before the snapshot");
            }
        }
        return state is not null;
    }

    /// <summary>The stream's events; a cancellation that is not the source stopping is the snapshot timeout.</summary>
    private async IAsyncEnumerable<WatchEvent> ReadAsync(AsyncServerStreamingCall<WatchEvent> call, CancellationToken callToken, [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken stoppingToken)
    {
        while (true)
        {
            bool next;
            try
            {
                next = await call.ResponseStream.MoveNext(callToken).ConfigureAwait(false);
            }
            catch (Exception ex) when (callToken.IsCancellationRequested && !stoppingToken.IsCancellationRequested && ex is OperationCanceledException or RpcException)
            {
                throw new TimeoutException($"no snapshot within {_options.SnapshotTimeout}", ex);
            }
            if (!next)
            {
                yield break;
            }
            yield return call.ResponseStream.Current;
        }
    }

    private ServiceSlices FromSnapshot(Snapshot s)
    {
        ImmutableArray<EndpointSlice> slices = [.. s.SliceJson.Select(RelayWire.DecodeSlice)];
        Service? service = s.ServiceJson.IsEmpty ? null : RelayWire.DecodeService(s.ServiceJson);
        return new ServiceSlices(_view.Namespace, _view.Name, service, slices, s.Synced)
        {
            ServicesVersion = NullIfEmpty(s.ServicesVersion),
            SlicesVersion = NullIfEmpty(s.SlicesVersion),
        };
    }

    private static ServiceSlices Apply(ServiceSlices state, Delta d)
    {
        Service? service = d.ServiceDeleted ? null : d.ServiceJson.IsEmpty ? state.Service : RelayWire.DecodeService(d.ServiceJson);
        ImmutableArray<EndpointSlice> slices = state.Slices;
        if (d.DeletedSlices.Count > 0 || d.UpsertedSliceJson.Count > 0)
        {
            Dictionary<string, EndpointSlice> byName = RelayWire.ByName(state);
            foreach (string gone in d.DeletedSlices)
            {
                byName.Remove(gone);
            }
            foreach (Google.Protobuf.ByteString json in d.UpsertedSliceJson)
            {
                EndpointSlice slice = RelayWire.DecodeSlice(json);
                byName[slice.Metadata.Name ?? ""] = slice;
            }
            slices = [.. byName.Values.OrderBy(static s => s.Metadata.Name, StringComparer.Ordinal)];
        }
        return state with
        {
            Service = service,
            Slices = slices,
            Synced = d.Synced,
            ServicesVersion = NullIfEmpty(d.ServicesVersion) ?? state.ServicesVersion,
            SlicesVersion = NullIfEmpty(d.SlicesVersion) ?? state.SlicesVersion,
        };
    }

    private static string? NullIfEmpty(string value) => value.Length == 0 ? null : value;

    public async ValueTask DisposeAsync()
    {
        if (_stopping.IsCancellationRequested)
        {
            return;
        }
        await _stopping.CancelAsync().ConfigureAwait(false);
        try
        {
            await _running.ConfigureAwait(false);
        }
        catch (OperationCanceledException)
        {
        }
        _stopping.Dispose();
    }
}

/// <summary>The agent's own API watch of a service fails (relayed): the state stays as last sent.</summary>
public sealed class KubernetesRelayedException : Exception
{
    /// <summary>Creates the exception with the agent's message.</summary>
    public KubernetesRelayedException(string message)
        : base("the ClientLb agent's watch of this service fails: " + message)
    {
    }

    /// <summary>Creates the exception.</summary>
    public KubernetesRelayedException()
        : this("(no reason given)")
    {
    }

    /// <summary>Creates the exception.</summary>
    public KubernetesRelayedException(string message, Exception inner)
        : base(message, inner)
    {
    }
}
