using System.Buffers;
using System.Globalization;

namespace ClientLb.Kubernetes.Client;

/// <summary>
/// Splits a stream of newline-delimited JSON (a watch response) into lines of UTF-8 bytes, so each event is parsed
/// straight from the bytes the server sent: no decoding to a string and back. The buffer comes from the shared pool,
/// grows for long lines up to <see cref="MaxLineBytes"/>, and is returned on dispose.
/// </summary>
internal sealed class Utf8LineReader(Stream stream, string what, int initialSize = 16 * 1024, int maxLineBytes = Utf8LineReader.MaxLineBytes) : IDisposable
{
    /// <summary>The longest line accepted by default: far above any real object (an EndpointSlice holds at most 1,000 endpoints).</summary>
    public const int MaxLineBytes = 64 * 1024 * 1024;

    private byte[] _buffer = ArrayPool<byte>.Shared.Rent(initialSize);
    private int _start;
    private int _end;

    /// <summary>
    /// The next line without its <c>\n</c> (or <c>\r\n</c>), or null at the end of the stream (a last line without a
    /// newline is returned first). The memory is valid until the next call.
    /// </summary>
    /// <exception cref="InvalidDataException">A line is longer than the limit (<see cref="MaxLineBytes"/> by default).</exception>
    public async ValueTask<ReadOnlyMemory<byte>?> ReadLineAsync(CancellationToken cancellationToken)
    {
        int scanned = _start;
        while (true)
        {
            int newline = _buffer.AsSpan(scanned, _end - scanned).IndexOf((byte)'\n');
            if (newline >= 0)
            {
                int end = scanned + newline;
                ReadOnlyMemory<byte> line = _buffer.AsMemory(_start, end - _start);
                _start = end + 1;
                return line.Span is [.., (byte)'\r'] ? line[..^1] : line;
            }
            scanned = _end;
            if (_start > 0)
            {
                // Keep the partial line at the front so the free space is all at the end.
                _buffer.AsSpan(_start, _end - _start).CopyTo(_buffer);
                scanned -= _start;
                _end -= _start;
                _start = 0;
            }
            if (_end == _buffer.Length)
            {
                if (_buffer.Length >= maxLineBytes)
                {
                    throw new InvalidDataException(string.Create(CultureInfo.InvariantCulture,
                        $"watch {what}: the server sent a line longer than {maxLineBytes:N0} bytes without a newline"));
                }
                byte[] larger = ArrayPool<byte>.Shared.Rent(Math.Min(maxLineBytes, _buffer.Length * 2));
                _buffer.AsSpan(0, _end).CopyTo(larger);
                ArrayPool<byte>.Shared.Return(_buffer);
                _buffer = larger;
            }
            int read = await stream.ReadAsync(_buffer.AsMemory(_end), cancellationToken).ConfigureAwait(false);
            if (read == 0)
            {
                if (_end == _start)
                {
                    return null;
                }
                ReadOnlyMemory<byte> rest = _buffer.AsMemory(_start, _end - _start);
                _start = _end;
                return rest;
            }
            _end += read;
        }
    }

    public void Dispose()
    {
        byte[] buffer = Interlocked.Exchange(ref _buffer, []);
        if (buffer.Length > 0)
        {
            ArrayPool<byte>.Shared.Return(buffer);
        }
    }
}
