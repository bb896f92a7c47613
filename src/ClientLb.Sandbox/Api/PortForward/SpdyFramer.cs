using System.Buffers.Binary;
using System.IO.Compression;
using System.Text;
using ICSharpCode.SharpZipLib.Zip.Compression;

namespace ClientLb.Sandbox.Api.PortForward;

/// <summary>One SPDY/3 frame: a control frame (type, flags, payload) or a data frame (stream id, flags, payload).</summary>
internal sealed record SpdyFrame(bool IsControl, ushort Type, byte Flags, uint StreamId, byte[] Payload)
{
    public const ushort SynStream = 1, SynReply = 2, RstStream = 3, Settings = 4, Ping = 6, GoAway = 7, Headers = 8, WindowUpdate = 9;
    public const byte FlagFin = 0x01;
    public bool Fin => (Flags & FlagFin) != 0;
}

/// <summary>A peer broke the SPDY/3 framing; the message names what was wrong.</summary>
internal sealed class SpdyProtocolException(string message) : Exception(message);

/// <summary>
/// SPDY/3 framing (draft-mbelshe-httpbis-spdy-00) as moby/spdystream speaks it, over any byte stream: here the
/// websocket tunnel of kubectl's port-forward. Header blocks are one zlib stream per direction; the peer's uses
/// the SPDY dictionary, ours is plain zlib (a dictionary is optional for the sender). Writes are serialized.
/// </summary>
internal sealed class SpdyFramer(Stream stream) : IDisposable
{
    private const int MaxHeaderBlock = 64 * 1024;
    private readonly Inflater _inflater = new();
    private readonly byte[] _dictionary = SpdyDictionary.Bytes.ToArray();
    private readonly MemoryStream _compressed = new();
    private ZLibStream? _compressor;
    private readonly SemaphoreSlim _writeLock = new(1, 1);

    /// <summary>The next frame, or null when the peer ended the stream between frames.</summary>
    public async Task<SpdyFrame?> ReadFrameAsync(CancellationToken ct)
    {
        byte[] header = new byte[8];
        int read = await stream.ReadAtLeastAsync(header, header.Length, throwOnEndOfStream: false, ct);
        if (read == 0)
        {
            return null;
        }

        if (read < header.Length)
        {
            throw new SpdyProtocolException($"the stream ended inside a frame header ({read} of 8 bytes)");
        }

        byte flags = header[4];
        int length = (header[5] << 16) | (header[6] << 8) | header[7];
        byte[] payload = new byte[length];
        await stream.ReadExactlyAsync(payload, ct);
        if ((header[0] & 0x80) == 0)
        {
            return new SpdyFrame(false, 0, flags, BinaryPrimitives.ReadUInt32BigEndian(header) & 0x7fffffff, payload);
        }

        int version = BinaryPrimitives.ReadUInt16BigEndian(header) & 0x7fff;
        if (version != 3)
        {
            throw new SpdyProtocolException($"SPDY version {version} is not supported (only 3)");
        }

        return new SpdyFrame(true, BinaryPrimitives.ReadUInt16BigEndian(header.AsSpan(2)), flags, 0, payload);
    }

    /// <summary>The stream id and the (lower-case) headers of a SYN_STREAM.</summary>
    public (uint StreamId, Dictionary<string, string> Headers) ReadSynStream(SpdyFrame frame)
    {
        if (frame.Payload.Length < 10)
        {
            throw new SpdyProtocolException($"SYN_STREAM payload of {frame.Payload.Length} bytes is shorter than its 10-byte fixed part");
        }

        uint id = BinaryPrimitives.ReadUInt32BigEndian(frame.Payload) & 0x7fffffff;
        return (id, DecodeHeaders(frame.Payload.AsSpan(10)));
    }

    /// <summary>Reads a HEADERS frame's block: it advances the shared zlib stream even though port-forward needs none of it.</summary>
    public void ReadHeadersFrame(SpdyFrame frame)
    {
        if (frame.Payload.Length < 4)
        {
            throw new SpdyProtocolException($"HEADERS payload of {frame.Payload.Length} bytes is shorter than its stream id");
        }

        DecodeHeaders(frame.Payload.AsSpan(4));
    }

    private Dictionary<string, string> DecodeHeaders(ReadOnlySpan<byte> block)
    {
        _inflater.SetInput(block.ToArray());
        var raw = new MemoryStream();
        byte[] buffer = new byte[4096];
        while (true)
        {
            int n = _inflater.Inflate(buffer);
            if (n > 0)
            {
                raw.Write(buffer, 0, n);
                if (raw.Length > MaxHeaderBlock)
                {
                    throw new SpdyProtocolException($"a header block inflates to more than {MaxHeaderBlock} bytes");
                }

                continue;
            }
            if (_inflater.IsNeedingDictionary) { _inflater.SetDictionary(_dictionary); continue; }
            break;
        }
        Span<byte> data = raw.GetBuffer().AsSpan(0, (int)raw.Length);
        var headers = new Dictionary<string, string>(StringComparer.Ordinal);
        int count = ReadInt(ref data, "the header count");
        for (int i = 0; i < count; i++)
        {
            string name = ReadString(ref data, "a header name");
            headers[name.ToLowerInvariant()] = ReadString(ref data, $"the value of header {name}");
        }
        return headers;
    }

    private static int ReadInt(ref Span<byte> data, string what)
    {
        if (data.Length < 4)
        {
            throw new SpdyProtocolException($"the header block ends before {what}");
        }

        int v = BinaryPrimitives.ReadInt32BigEndian(data);
        data = data[4..];
        return v;
    }

    private static string ReadString(ref Span<byte> data, string what)
    {
        int length = ReadInt(ref data, $"the length of {what}");
        if (length < 0 || length > data.Length)
        {
            throw new SpdyProtocolException($"the length of {what} ({length}) runs past the header block");
        }

        string s = Encoding.UTF8.GetString(data[..length]);
        data = data[length..];
        return s;
    }

    /// <summary>Accepts a stream: SYN_REPLY with an empty header block.</summary>
    public Task WriteSynReplyAsync(uint streamId, CancellationToken ct) => WriteControlAsync(SpdyFrame.SynReply, 0, ct, streamId, headers: true);

    public Task WriteRstStreamAsync(uint streamId, uint status, CancellationToken ct) => WriteControlAsync(SpdyFrame.RstStream, 0, ct, streamId, status);

    public Task WritePingAsync(uint id, CancellationToken ct) => WriteControlAsync(SpdyFrame.Ping, 0, ct, id);

    public Task WriteGoAwayAsync(uint lastGoodStreamId, CancellationToken ct) => WriteControlAsync(SpdyFrame.GoAway, 0, ct, lastGoodStreamId, 0u);

    public async Task WriteDataAsync(uint streamId, ReadOnlyMemory<byte> data, bool fin, CancellationToken ct)
    {
        byte[] frame = new byte[8 + data.Length];
        BinaryPrimitives.WriteUInt32BigEndian(frame, streamId & 0x7fffffff);
        frame[4] = fin ? SpdyFrame.FlagFin : (byte)0;
        WriteLength(frame, data.Length);
        data.Span.CopyTo(frame.AsSpan(8));
        await WriteAsync(frame, ct);
    }

    private async Task WriteControlAsync(ushort type, byte flags, CancellationToken ct, uint first, uint? second = null, bool headers = false)
    {
        await _writeLock.WaitAsync(ct);
        try
        {
            byte[] block = headers ? CompressEmptyHeaderBlock() : [];
            int length = 4 + (second is null ? 0 : 4) + block.Length;
            byte[] frame = new byte[8 + length];
            BinaryPrimitives.WriteUInt16BigEndian(frame, 0x8000 | 3);
            BinaryPrimitives.WriteUInt16BigEndian(frame.AsSpan(2), type);
            frame[4] = flags;
            WriteLength(frame, length);
            BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(8), first);
            if (second is { } s)
            {
                BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(12), s);
            }

            block.CopyTo(frame.AsSpan(12));
            await stream.WriteAsync(frame, ct);
        }
        finally { _writeLock.Release(); }
    }

    /// <summary>A header block with no headers, in our direction's zlib stream (sync-flushed so the peer can read it now).</summary>
    private byte[] CompressEmptyHeaderBlock()
    {
        _compressor ??= new ZLibStream(_compressed, CompressionLevel.Fastest, leaveOpen: true);
        _compressor.Write([0, 0, 0, 0]);
        _compressor.Flush();
        byte[] block = _compressed.ToArray();
        _compressed.SetLength(0);
        return block;
    }

    private async Task WriteAsync(byte[] frame, CancellationToken ct)
    {
        await _writeLock.WaitAsync(ct);
        try { await stream.WriteAsync(frame, ct); }
        finally { _writeLock.Release(); }
    }

    private static void WriteLength(byte[] frame, int length)
    {
        if (length > 0xffffff)
        {
            throw new ArgumentOutOfRangeException(nameof(length), length, "a SPDY frame carries at most 16 MiB");
        }

        frame[5] = (byte)(length >> 16);
        frame[6] = (byte)(length >> 8);
        frame[7] = (byte)length;
    }

    public void Dispose()
    {
        _compressor?.Dispose();
        _compressed.Dispose();
        _writeLock.Dispose();
    }
}
