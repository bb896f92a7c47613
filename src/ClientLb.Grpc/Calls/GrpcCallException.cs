using ClientLb.Grpc.Protocol;

namespace ClientLb.Grpc.Calls;

/// <summary>A gRPC call ended with a status other than OK (the counterpart of Grpc.Core's <c>RpcException</c>).</summary>
public sealed class GrpcCallException : Exception
{
    /// <summary>Creates the exception.</summary>
    public GrpcCallException(string method, GrpcStatus status, Exception? innerException = null)
        : base($"gRPC call {method} failed with {status}", innerException)
    {
        Method = method;
        Status = status;
    }

    /// <summary>The method, <c>/package.Service/Method</c>.</summary>
    public string Method { get; }

    /// <summary>The call's status.</summary>
    public GrpcStatus Status { get; }

    /// <summary>The status code.</summary>
    public GrpcStatusCode StatusCode => Status.Code;
}
