using System.Buffers.Binary;
using Google.Protobuf;

namespace ClientLb.Grpc.Protocol;

/// <summary>gRPC length-prefixed messages: a compressed flag byte, a 4-byte big-endian length, the message.</summary>
internal static class GrpcFraming
{
    public const int PrefixLength = 5;

    /// <summary>The messages this caller accepts at most, as Grpc.Net.Client's default MaxReceiveMessageSize.</summary>
    public const int DefaultMaxMessageSize = 4 * 1024 * 1024;

    public static byte[] Frame(IMessage message)
    {
        int size = message.CalculateSize();
        byte[] frame = new byte[PrefixLength + size];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1, 4), (uint)size);
        message.WriteTo(frame.AsSpan(PrefixLength));
        return frame;
    }

    /// <summary>Reads the next message, or returns null at the end of the stream (between messages).</summary>
    /// <exception cref="GrpcProtocolException">A truncated frame, a compressed message (none was negotiated), or one too large.</exception>
    public static async ValueTask<T?> ReadAsync<T>(Stream stream, MessageParser<T> parser, int maxMessageSize, CancellationToken cancellationToken)
        where T : class, IMessage<T>
    {
        byte[] prefix = new byte[PrefixLength];
        int read = await ReadFullyAsync(stream, prefix, cancellationToken).ConfigureAwait(false);
        if (read == 0)
        {
            return null;
        }
        if (read < PrefixLength)
        {
            throw new GrpcProtocolException($"The response ended inside a message prefix ({read} of {PrefixLength} bytes).");
        }
        if (prefix[0] != 0)
        {
            throw new GrpcProtocolException(prefix[0] == 1
                ? "The server sent a compressed message, but the call did not offer compression (grpc-accept-encoding: identity)."
                : $"The message prefix has the invalid compressed flag {prefix[0]}.");
        }
        uint length = BinaryPrimitives.ReadUInt32BigEndian(prefix.AsSpan(1));
        if (length > (uint)maxMessageSize)
        {
            throw new GrpcProtocolException($"The server sent a message of {length} bytes; the limit is {maxMessageSize}.");
        }
        byte[] body = new byte[length];
        read = await ReadFullyAsync(stream, body, cancellationToken).ConfigureAwait(false);
        if (read < body.Length)
        {
            throw new GrpcProtocolException($"The response ended inside a message ({read} of {length} bytes).");
        }
        return parser.ParseFrom(body);
    }

    private static async ValueTask<int> ReadFullyAsync(Stream stream, Memory<byte> buffer, CancellationToken cancellationToken)
    {
        int total = 0;
        while (total < buffer.Length)
        {
            int read = await stream.ReadAsync(buffer[total..], cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                break;
            }
            total += read;
        }
        return total;
    }
}

/// <summary>The server broke the gRPC wire protocol (framing); the call fails with INTERNAL.</summary>
internal sealed class GrpcProtocolException(string message) : Exception(message);
