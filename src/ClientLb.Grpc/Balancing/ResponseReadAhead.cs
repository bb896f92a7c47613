using System.Buffers;

namespace ClientLb.Grpc.Balancing;

/// <summary>
/// Reads a unary answer to its end before the call returns, so a connection lost mid-answer or an UNAVAILABLE in the
/// trailers is seen while the call can still go to another endpoint. Bounded: past the limit the call is returned as a
/// stream that starts with what was read.
/// </summary>
internal static class ResponseReadAhead
{
    public readonly record struct Result(byte[] Body, bool Complete, Exception? Error);

    public static async Task<Result> ReadAsync(HttpResponseMessage response, int limit, CancellationToken cancellationToken)
    {
        var buffer = new ArrayBufferWriter<byte>();
        try
        {
            Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            while (true)
            {
                int read = await body.ReadAsync(buffer.GetMemory(4096), cancellationToken).ConfigureAwait(false);
                if (read == 0)
                {
                    return new Result(buffer.WrittenSpan.ToArray(), true, null);
                }
                buffer.Advance(read);
                if (buffer.WrittenCount > limit)
                {
                    return new Result(buffer.WrittenSpan.ToArray(), false, null);
                }
            }
        }
        catch (Exception ex) when (ex is HttpRequestException or IOException or ObjectDisposedException or OperationCanceledException)
        {
            return new Result([], false, ex);
        }
    }

    /// <summary>The read answer as the response's content (its trailers stay on the response).</summary>
    public static HttpContent Buffered(HttpContent original, byte[] body)
    {
        var content = new ReadAnswer(body);
        ContentHeaders.Adopt(content, original);
        original.Dispose();
        return content;
    }

    /// <summary>An answer read to its end: the call is over, its status is in the response's trailers.</summary>
    public sealed class ReadAnswer(byte[] body) : ByteArrayContent(body);
}
