using System.Net;
using ClientLb.Grpc.Protocol;
using Google.Protobuf;

namespace ClientLb.Grpc.Calls;

/// <summary>
/// A request body of one length-prefixed message, written when the transport asks for it. Like Grpc.Net.Client's
/// content it is not a buffered type (ByteArrayContent), so ClientLb treats it as a stream that may not be sent twice.
/// </summary>
internal sealed class GrpcMessageContent : HttpContent
{
    private readonly IMessage _message;

    public GrpcMessageContent(IMessage message)
    {
        _message = message;
        Headers.TryAddWithoutValidation("Content-Type", "application/grpc");
    }

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        stream.WriteAsync(GrpcFraming.Frame(_message)).AsTask();

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken) =>
        stream.WriteAsync(GrpcFraming.Frame(_message), cancellationToken).AsTask();

    // No Content-Length: gRPC bodies are streams of messages (HTTP/2 DATA frames until END_STREAM).
    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }
}
