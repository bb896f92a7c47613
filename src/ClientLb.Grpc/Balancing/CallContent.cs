using System.Buffers;
using System.Net;

namespace ClientLb.Grpc.Balancing;

/// <summary>
/// Wraps a call's request body to know whether any of it was handed to a connection (a call whose body never started
/// cannot have run, so it may go to another endpoint) and to keep a copy as it is sent (up to a limit) so the call can be
/// replayed where that is safe: an idempotent method, or a connection the server provably never ran it on (GOAWAY, then
/// the transport's own retry). A streaming call's copy is taken while it is sent: a bidirectional call is never held
/// back. A unary call's body (one message, which grpc-dotnet already holds whole) is read into the copy first and then
/// written, so a connection that breaks during the write still leaves a whole copy to send elsewhere.
/// </summary>
internal sealed class CallContent : HttpContent
{
    private readonly HttpContent _inner;
    private readonly int _replayLimit;
    private readonly bool _unary;
    private ArrayBufferWriter<byte>? _copy;
    private volatile bool _whole;
    // 1 once an attempt began sending the body: whether it then completed or broke, only a whole kept copy can be sent again.
    private int _started;

    /// <param name="inner">The call's own body.</param>
    /// <param name="replayLimit">The largest body kept for another attempt.</param>
    /// <param name="unary">Whether the method is unary (listed in UnaryMethods): its body is read whole before it is written.</param>
    public CallContent(HttpContent inner, int replayLimit, bool unary)
    {
        _inner = inner;
        _replayLimit = replayLimit;
        _unary = unary;
        ContentHeaders.Adopt(this, inner);
    }

    /// <summary>Whether any attempt began sending the body (the server may have seen the call).</summary>
    public bool Started => Volatile.Read(ref _started) != 0;

    /// <summary>Whether the whole body is kept, so another attempt can send it again.</summary>
    public bool CanReplay => _whole && _copy is not null;

    protected override Task SerializeToStreamAsync(Stream stream, TransportContext? context) =>
        SerializeToStreamAsync(stream, context, CancellationToken.None);

    protected override async Task SerializeToStreamAsync(Stream stream, TransportContext? context, CancellationToken cancellationToken)
    {
        if (Interlocked.Exchange(ref _started, 1) != 0)
        {
            if (!CanReplay)
            {
                throw new InvalidOperationException("The gRPC request body was already sent and was not kept; the call cannot be sent again.");
            }
            await stream.WriteAsync(_copy!.WrittenMemory, cancellationToken).ConfigureAwait(false);
            return;
        }
        if (_unary)
        {
            var body = new ArrayBufferWriter<byte>();
            await _inner.CopyToAsync(new CopyingStream(Stream.Null, body), cancellationToken).ConfigureAwait(false);
            if (body.WrittenCount <= _replayLimit)
            {
                _copy = body;
                _whole = true;
            }
            await stream.WriteAsync(body.WrittenMemory, cancellationToken).ConfigureAwait(false);
        }
        else if (_replayLimit > 0)
        {
            _copy = new ArrayBufferWriter<byte>();
            await _inner.CopyToAsync(new CopyingStream(stream, this), cancellationToken).ConfigureAwait(false);
            _whole = _copy is not null;
        }
        else
        {
            await _inner.CopyToAsync(stream, cancellationToken).ConfigureAwait(false);
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

    /// <summary>Forwards writes to the connection and keeps a copy (in the owner's bounded copy, or in a whole body).</summary>
    private sealed class CopyingStream : Stream
    {
        private readonly Stream _target;
        private readonly CallContent? _owner;
        private readonly ArrayBufferWriter<byte>? _body;

        public CopyingStream(Stream target, CallContent owner) => (_target, _owner) = (target, owner);

        public CopyingStream(Stream target, ArrayBufferWriter<byte> body) => (_target, _body) = (target, body);

        public override bool CanRead => false;
        public override bool CanSeek => false;
        public override bool CanWrite => true;
        public override long Length => throw new NotSupportedException();
        public override long Position { get => throw new NotSupportedException(); set => throw new NotSupportedException(); }

        public override void Write(byte[] buffer, int offset, int count) => Write(buffer.AsSpan(offset, count));

        public override void Write(ReadOnlySpan<byte> buffer)
        {
            Keep(buffer);
            _target.Write(buffer);
        }

        public override Task WriteAsync(byte[] buffer, int offset, int count, CancellationToken cancellationToken) =>
            WriteAsync(buffer.AsMemory(offset, count), cancellationToken).AsTask();

        public override ValueTask WriteAsync(ReadOnlyMemory<byte> buffer, CancellationToken cancellationToken = default)
        {
            Keep(buffer.Span);
            return _target.WriteAsync(buffer, cancellationToken);
        }

        private void Keep(ReadOnlySpan<byte> data)
        {
            if (_body is not null)
            {
                _body.Write(data);
            }
            else
            {
                _owner!.Keep(data);
            }
        }

        public override void Flush() => _target.Flush();
        public override Task FlushAsync(CancellationToken cancellationToken) => _target.FlushAsync(cancellationToken);
        public override int Read(byte[] buffer, int offset, int count) => throw new NotSupportedException();
        public override long Seek(long offset, SeekOrigin origin) => throw new NotSupportedException();
        public override void SetLength(long value) => throw new NotSupportedException();
    }
}
