using System.Buffers;
using System.Net;

namespace ClientLb.Grpc.Balancing;

/// <summary>
/// Wraps a call's request body to know whether any of it was handed to a connection (a call whose body never started
/// cannot have run, so it may go to another endpoint) and to keep a copy as it is sent (up to a limit) so the call can be
/// replayed where that is safe: an idempotent method, or a connection the server provably never ran it on (GOAWAY, then
/// the transport's own retry). The copy is taken while streaming: a bidirectional call is never held back.
/// </summary>
internal sealed class CallContent : HttpContent
{
    private const int NotStarted = 0, Sending = 1, Sent = 2, Broken = 3;

    private readonly HttpContent _inner;
    private readonly int _replayLimit;
    private ArrayBufferWriter<byte>? _copy;
    private int _state;

    public CallContent(HttpContent inner, int replayLimit)
    {
        _inner = inner;
        _replayLimit = replayLimit;
        ContentHeaders.Adopt(this, inner);
    }

    /// <summary>Whether any attempt began sending the body (the server may have seen the call).</summary>
    public bool Started => Volatile.Read(ref _state) != NotStarted;

    /// <summary>Whether the whole body was sent and kept, so another attempt can send it again.</summary>
    public bool CanReplay => Volatile.Read(ref _state) == Sent && _copy is not null;

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        switch (Interlocked.CompareExchange(ref _state, Sending, NotStarted))
        {
            case NotStarted:
                break;
            case Sent when _copy is not null:
                await stream.WriteAsync(_copy.WrittenMemory, cancellationToken).ConfigureAwait(false);
                return;
            default:
                throw new InvalidOperationException("The gRPC request body was already sent and was not kept; the call cannot be sent again.");
        }
        try
        {
            if (_replayLimit > 0)
            {
                _copy = new ArrayBufferWriter<byte>();
                await _inner.CopyToAsync(new CopyingStream(stream, this), cancellationToken).ConfigureAwait(false);
            }
            else
            {
                await _inner.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
            }
            Volatile.Write(ref _state, Sent);
        }
        catch
        {
            Volatile.Write(ref _state, Broken);
            throw;
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
        }
        base.Dispose(disposing);
    }

    private void Keep(ReadOnlySpan<byte> data)
    {
        if (_copy is { } copy)
        {
            if (copy.WrittenCount + data.Length > _replayLimit)
            {
                _copy = null; // Too large to keep: this call will not be replayed.
                return;
            }
            copy.Write(data);
        }
    }

    /// <summary>Forwards writes to the connection and keeps a copy.</summary>
    private sealed class CopyingStream(Stream target, CallContent owner) : Stream
    {
        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            owner.Keep(buffer);
            target.Write(buffer);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            owner.Keep(buffer.Span);
            return target.WriteAsync(buffer, cancellationToken);
        }

        public override void Flush() => target.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => target.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
