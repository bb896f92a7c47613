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
    /// <summary>The longest line accepted by default: far above any real object (an EndpointSlice holds at most 1,000 endpoints).</summary>
    public const int MaxLineBytes = 64 * 1024 * 1024;

    // Large reads keep a typical event (a 100-endpoint slice is about 20 KB) in one segment.
    private static readonly StreamPipeReaderOptions Options = new(bufferSize: 64 * 1024, minimumReadSize: 16 * 1024, leaveOpen: true);

    /// <summary>
    /// Each non-empty line of <paramref name="stream"/> (without <c>\n</c> or <c>\r\n</c>; a last line without a newline
    /// too), parsed by <paramref name="parse"/>.
    /// </summary>
    /// <exception cref="InvalidDataException">A line is longer than <paramref name="maxLineBytes"/>; the message names <paramref name="what"/>.</exception>
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
                        $"watch {what}: the server sent a line longer than {maxLineBytes:N0} bytes without a newline"));
                }
                if (result.IsCompleted)
                {
                    ReadOnlySequence<byte> last = Trim(buffer);
                    if (!last.IsEmpty)
                    {
                        yield return parse(last);
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
