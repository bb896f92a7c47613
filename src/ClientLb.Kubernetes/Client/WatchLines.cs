using System.Buffers;
using System.Globalization;
using System.IO.Pipelines;

namespace ClientLb.Kubernetes.Client;

/// <summary>
/// Splits a watch response (newline-delimited JSON) into lines with System.IO.Pipelines, so each event is parsed
/// straight from the bytes the server sent: no decoding to a string and back. A line may span buffer segments, so the
/// parser gets it as a sequence, and must be done with it when it returns.
/// </summary>
internal static class WatchLines
{
    /// <summary>The longest line accepted by default: far above any real object (an EndpointSlice of 1,000 endpoints is about 250 KB).</summary>
    public const int MaxLineBytes = 16 * 1024 * 1024;

    // Large reads keep a typical event (a 100-endpoint slice is about 20 KB) in one segment.
    private static readonly StreamPipeReaderOptions Options = new(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: true);

    /// <summary>
    /// Each non-empty line of <paramref name="stream"/> (without <c>\n</c> or <c>\r\n</c>), parsed by <paramref name="parse"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">A line is longer than <paramref name="maxLineBytes"/>; the message names <paramref name="what"/> and the object.</exception>
    /// <exception cref="IOException">The stream ended inside a line (a cut connection).</exception>
    public static async IAsyncEnumerable<T> ReadAsync<T>(Stream stream, string what, Func<ReadOnlySequence<byte>, T> parse,
        [System.Runtime.CompilerServices.EnumeratorCancellation] CancellationToken cancellationToken, int maxLineBytes = MaxLineBytes)
    {
        PipeReader reader = PipeReader.Create(stream, Options);
        try
        {
            while (true)
            {
                ReadResult result = await reader.ReadAsync(cancellationToken).ConfigureAwait(false);
                ReadOnlySequence<byte> buffer = result.Buffer;
                while (TryTakeLine(ref buffer, out ReadOnlySequence<byte> line))
                {
                    if (!line.IsEmpty)
                    {
                        yield return parse(line);
                    }
                }
                if (buffer.Length > maxLineBytes)
                {
                    throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                        $"watch {what}: the server sent an event longer than {maxLineBytes:N0} bytes ({ObjectNames.Peek(buffer)}); raise MaxEventBytes if such objects are expected"));
                }
                if (result.IsCompleted)
                {
                    if (!Trim(buffer).IsEmpty)
                    {
                        // Every event ends with a newline: the connection was cut in the middle of one.
                        throw new IOException(string.Create(CultureInfo.InvariantCulture,
                            $"watch {what}: the stream ended in the middle of an event ({buffer.Length:N0} bytes without a newline)"));
                    }
                    yield break;
                }
                // Everything before buffer.Start is consumed; the partial line waits for more bytes.
                reader.AdvanceTo(buffer.Start, buffer.End);
            }
        }
        finally
        {
            await reader.CompleteAsync().ConfigureAwait(false);
        }
    }

    private static bool TryTakeLine(ref ReadOnlySequence<byte> buffer, out ReadOnlySequence<byte> line)
    {
        SequencePosition? newline = buffer.PositionOf((byte)'\n');
        if (newline is not SequencePosition end)
        {
            line = default;
            return false;
        }
        line = Trim(buffer.Slice(0, end));
        buffer = buffer.Slice(buffer.GetPosition(1, end));
        return true;
    }

    private static ReadOnlySequence<byte> Trim(ReadOnlySequence<byte> line) =>
        !line.IsEmpty && line.Slice(line.Length - 1).FirstSpan[0] == (byte)'\r' ? line.Slice(0, line.Length - 1) : line;
}
