using System.Net;
using ClientLb.Balancing;

namespace ClientLb.Grpc.Balancing;

/// <summary>
/// Wraps a call's response body so the endpoint counts the call as outstanding until the response is disposed
/// (Grpc.Net.Client disposes it when the call completes), or its body was copied out: a stream is load for as long as it
/// is open (least-outstanding picks see it), and a departed endpoint's connections close only after its last stream.
/// </summary>
internal sealed class CallResponseContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly byte[]? _prefix;
    private BalancedEndpoint? _endpoint;

    /// <param name="inner">The transport's content.</param>
    /// <param name="endpoint">The endpoint whose outstanding count the call holds, or null when grpc-dotnet's call tracker counts it (resolver path).</param>
    /// <param name="prefix">Bytes already read from <paramref name="inner"/>'s stream (read-ahead), served first.</param>
    public CallResponseContent(HttpContent inner, BalancedEndpoint? endpoint, byte[]? prefix = null)
    {
        _inner = inner;
        _endpoint = endpoint;
        _prefix = prefix;
        ContentHeaders.Adopt(this, inner);
    }

    /// <summary>Ends the call's outstanding count once (end of body, dispose, or a failure while reading).</summary>
    public void End() => Interlocked.Exchange(ref _endpoint, null)?.OnRequestEnd();

    // Without read-ahead bytes the transport's own stream is handed out: the call ends when the content is disposed, which
    // Grpc.Net.Client does when the call completes (the whole answer read, or the call disposed or cancelled).
    protected override Task<Stream> CreateContentReadStreamAsync(CancellationToken cancellationToken) =>
        _prefix is null ? _inner.ReadAsStreamAsync(cancellationToken) : WrapAsync(_inner.ReadAsStreamAsync(cancellationToken));

    private async Task<Stream> WrapAsync(Task<Stream> inner) => new EndingStream(await inner.ConfigureAwait(false), this, _prefix);

    protected override Task<Stream> CreateContentReadStreamAsync() => CreateContentReadStreamAsync(CancellationToken.None);

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        try
        {
            if (_prefix is not null)
            {
                await stream.WriteAsync(_prefix, cancellationToken).ConfigureAwait(false);
                await (await _inner.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false)).CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await _inner.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
            }
        }
        finally
        {
            End();
        }
    }

    protected override bool TryComputeLength(out long length)
    {
        length = 0;
        return false;
    }

    protected override void Dispose(bool disposing)
    {
        if (disposing)
        {
            _inner.Dispose();
            End();
        }
        base.Dispose(disposing);
    }

    /// <summary>The read-ahead bytes, then the rest of the body: the call ends at its end, on a read failure, or when it is disposed.</summary>
    private sealed class EndingStream(Stream inner, CallResponseContent owner, byte[]? prefix) : Stream
    {
        private int _prefixRead;

        public override bool CanRead => true;
        public override bool CanSeek => false;
        public override bool CanWrite => false;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override int Read(byte[] buffer, int offset, int count) => Read(buffer.AsSpan(offset, count));

        public override int Read(Span<byte> buffer)
        {
            if (FromPrefix(buffer) is int copied and > 0)
            {
                return copied;
            }
            try
            {
                return Ended(inner.Read(buffer), buffer.Length);
            }
            catch
            {
                owner.End();
                throw;
            }
        }

        public override Task<int> ReadAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            ReadAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override async ValueTask<int> ReadAsync(Memory<byte> buffer, CancellationToken cancellationToken = default)
        {
            if (FromPrefix(buffer.Span) is int copied and > 0)
            {
                return copied;
            }
            try
            {
                return Ended(await inner.ReadAsync(buffer, cancellationToken).ConfigureAwait(false), buffer.Length);
            }
            catch
            {
                owner.End();
                throw;
            }
        }

        private int FromPrefix(Span<byte> buffer)
        {
            if (prefix is null || _prefixRead >= prefix.Length)
            {
                return 0;
            }
            int count = Math.Min(buffer.Length, prefix.Length - _prefixRead);
            prefix.AsSpan(_prefixRead, count).CopyTo(buffer);
            _prefixRead += count;
            return count;
        }

        private int Ended(int read, int asked)
        {
            if (read == 0 && asked > 0)
            {
                owner.End();
            }
            return read;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
            {
                inner.Dispose();
                owner.End();
            }
            base.Dispose(disposing);
        }

        public override ValueTask DisposeAsync()
        {
            owner.End();
            return inner.DisposeAsync();
        }

        public override void Flush() => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
        public override void Write(byte[] buffer, int offset, int count) => throw new NotSupportedException();
    }
}
