using System.Threading.Channels;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Node.Protocol;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Watching;
using ClientLb.Names;
using ClientLb.Registry;
using Google.Protobuf;
using Grpc.Core;
using Microsoft.Extensions.Logging;
using Status = Grpc.Core.Status;

namespace ClientLb.Kubernetes.Node;

/// <summary>
/// The relay's gRPC service. <c>Watch</c> takes a lease on the agent's shared view of the Service (one API watch per
/// Service, or per namespace past the threshold, however many streams follow it), sends a snapshot, then one delta per
/// change: each stream diffs what it sent last against the view's current state, so a slow reader skips intermediate
/// states instead of queueing them. The caller's token is checked when the stream opens and every
/// <see cref="RelayState.AuthorizationRecheck"/>.
/// </summary>
internal sealed class NodeRelayService(RelayState state) : NodeRelay.NodeRelayBase
{
    public override async Task Watch(WatchRequest request, IServerStreamWriter<WatchEvent> responseStream, ServerCallContext context)
    {
        try
        {
            ServiceName.Create(request.Name, request.Namespace);
        }
        catch (ServiceNameFormatException ex)
        {
            throw new RpcException(new Status(StatusCode.InvalidArgument, ex.Message));
        }
        string token = BearerToken(context);
        CancellationToken ct = context.CancellationToken;
        await AuthorizeAsync(token, request, ct).ConfigureAwait(false);
        DateTimeOffset checkedAt = state.Time.GetUtcNow();

        using ViewLease lease = state.Views.Acquire(request.Namespace, request.Name);
        ServiceView view = lease.View;
        var changed = Channel.CreateBounded<bool>(new BoundedChannelOptions(1) { FullMode = BoundedChannelFullMode.DropWrite, SingleReader = true });
        using IDisposable subscription = view.Subscribe(_ => changed.Writer.TryWrite(true));
        state.StreamOpened(view.Key);
        try
        {
            ulong version = 0;
            ServiceSlices? sent = null;
            Exception? sentError = null;
            using ITimer recheck = state.Time.CreateTimer(_ => changed.Writer.TryWrite(true), null, state.AuthorizationRecheck, state.AuthorizationRecheck);
            while (true)
            {
                if (state.Time.GetUtcNow() - checkedAt >= state.AuthorizationRecheck)
                {
                    await AuthorizeAsync(token, request, ct).ConfigureAwait(false);
                    checkedAt = state.Time.GetUtcNow();
                }
                ServiceSlices data = view.Data;
                Exception? error = view.Error;
                if (sent is null)
                {
                    await responseStream.WriteAsync(new WatchEvent { Version = ++version, Snapshot = Snapshot(data) }, ct).ConfigureAwait(false);
                    sent = data;
                }
                else if (Diff(sent, data) is Delta delta)
                {
                    await responseStream.WriteAsync(new WatchEvent { Version = ++version, Delta = delta }, ct).ConfigureAwait(false);
                    sent = data;
                }
                else if (error is null && sentError is not null)
                {
                    // The agent's watch recovered without a change: an empty delta tells the SDK its state is current again.
                    await responseStream.WriteAsync(new WatchEvent { Version = ++version, Delta = new Delta { Synced = data.Synced } }, ct).ConfigureAwait(false);
                }
                if (error is not null && error != sentError)
                {
                    await responseStream.WriteAsync(new WatchEvent { Version = ++version, Failure = new Failure { Message = error.Message } }, ct).ConfigureAwait(false);
                }
                sentError = error;
                await changed.Reader.ReadAsync(ct).ConfigureAwait(false);
            }
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            // The caller left or the agent stops.
        }
        finally
        {
            state.StreamClosed(view.Key);
        }
    }

    public override Task<ListResponse> List(ListRequest request, ServerCallContext context)
    {
        var response = new ListResponse();
        foreach (ServiceView view in state.Views.Views.OrderBy(static v => v.Key, StringComparer.Ordinal))
        {
            ServiceSlices data = view.Data;
            response.Services.Add(new WatchedService
            {
                Namespace = view.Namespace,
                Name = view.Name,
                Streams = state.StreamsOf(view.Key),
                EndpointSlices = data.Slices.Length,
                Synced = data.Synced,
                Error = view.Error?.Message ?? "",
            });
        }
        return Task.FromResult(response);
    }

    private async Task AuthorizeAsync(string token, WatchRequest request, CancellationToken ct)
    {
        string? denied;
        try
        {
            denied = await state.Authorizer.CheckAsync(token, request.Namespace, request.Name, ct).ConfigureAwait(false);
        }
        catch (RelayAuthorizationUnavailableException ex)
        {
            throw new RpcException(new Status(StatusCode.Unavailable, ex.Message));
        }
        if (denied is not null)
        {
            state.Logger.LogWarning("Relay: refused {Namespace}/{Service} to a caller: {Reason}", request.Namespace, request.Name, denied);
            throw new RpcException(new Status(StatusCode.PermissionDenied, denied));
        }
    }

    private static string BearerToken(ServerCallContext context)
    {
        string? header = context.RequestHeaders.GetValue("authorization");
        if (header is null || !header.StartsWith("Bearer ", StringComparison.OrdinalIgnoreCase) || header.Length == "Bearer ".Length)
        {
            throw new RpcException(new Status(StatusCode.Unauthenticated, "the relay serves only callers that send their Kubernetes bearer token (authorization: Bearer ...)"));
        }
        return header["Bearer ".Length..].Trim();
    }

    private static Snapshot Snapshot(ServiceSlices data)
    {
        var snapshot = new Snapshot
        {
            Synced = data.Synced,
            ServiceJson = data.Service is Service service ? RelayWire.Encode(service) : ByteString.Empty,
            ServicesVersion = data.ServicesVersion ?? "",
            SlicesVersion = data.SlicesVersion ?? "",
        };
        foreach (EndpointSlice slice in data.Slices)
        {
            snapshot.SliceJson.Add(RelayWire.Encode(slice));
        }
        return snapshot;
    }

    /// <summary>What changed from <paramref name="sent"/> to <paramref name="now"/>; null when nothing did. Unchanged objects are the same instances.</summary>
    internal static Delta? Diff(ServiceSlices sent, ServiceSlices now)
    {
        var delta = new Delta
        {
            Synced = now.Synced,
            ServicesVersion = now.ServicesVersion ?? "",
            SlicesVersion = now.SlicesVersion ?? "",
        };
        bool any = sent.Synced != now.Synced;
        if (!ReferenceEquals(sent.Service, now.Service))
        {
            any = true;
            if (now.Service is Service service)
            {
                delta.ServiceJson = RelayWire.Encode(service);
            }
            else
            {
                delta.ServiceDeleted = true;
            }
        }
        if (sent.Slices != now.Slices)
        {
            Dictionary<string, EndpointSlice> before = RelayWire.ByName(sent);
            foreach (EndpointSlice slice in now.Slices)
            {
                string name = slice.Metadata.Name ?? "";
                if (!before.Remove(name, out EndpointSlice? old) || !ReferenceEquals(old, slice))
                {
                    delta.UpsertedSliceJson.Add(RelayWire.Encode(slice));
                    any = true;
                }
            }
            foreach (string gone in before.Keys)
            {
                delta.DeletedSlices.Add(gone);
                any = true;
            }
        }
        return any ? delta : null;
    }
}
