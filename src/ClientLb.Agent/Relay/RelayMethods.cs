using ClientLb.Kubernetes.Node;
using Grpc.AspNetCore.Server.Model;
using Grpc.Core;

namespace ClientLb.Agent.Relay;

/// <summary>
/// The gRPC service type ASP.NET Core maps for the relay. It has no methods of its own: <see cref="RelayMethods"/> adds
/// the <see cref="NodeRelayPublisher"/>'s, whose protocol types stay internal to ClientLb.Kubernetes.
/// </summary>
internal sealed class RelayEndpoint;

/// <summary>
/// Adds the publisher's methods to the <see cref="RelayEndpoint"/> service through a binder, as generated services bind
/// theirs. The relay has unary and server-streaming methods only (the binder's other kinds are left to the base class).
/// </summary>
internal sealed class RelayMethods(NodeRelayPublisher publisher) : IServiceMethodProvider<RelayEndpoint>
{
    public void OnServiceMethodDiscovery(ServiceMethodProviderContext<RelayEndpoint> context) => publisher.BindService(new Binder(context));

    private sealed class Binder(ServiceMethodProviderContext<RelayEndpoint> context) : ServiceBinderBase
    {
        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, UnaryServerMethod<TRequest, TResponse>? handler)
        {
            ArgumentNullException.ThrowIfNull(handler);
            context.AddUnaryMethod(method, [], (_, request, call) => handler(request, call));
        }

        public override void AddMethod<TRequest, TResponse>(Method<TRequest, TResponse> method, ServerStreamingServerMethod<TRequest, TResponse>? handler)
        {
            ArgumentNullException.ThrowIfNull(handler);
            context.AddServerStreamingMethod(method, [], (_, request, stream, call) => handler(request, stream, call));
        }
    }
}
