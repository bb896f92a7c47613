using System.Buffers.Binary;
using System.Globalization;
using System.Text;
using Google.Protobuf;
using Greet;
using Grpc.Health.V1;
using Microsoft.AspNetCore.Http;

namespace ClientLb.Sandbox.Pods.Grpc;

/// <summary>
/// The gRPC side of a pod's grpc*/h2c* ports, written against Kestrel directly (no Grpc.AspNetCore): the
/// <c>greet.Greeter</c> service of greeter.proto (<c>SayHello</c> answering with the pod name, <c>StreamHellos</c>) and
/// <c>grpc.health.v1.Health/Check</c> (SERVING while the pod is ready). Other methods end with UNIMPLEMENTED. Identity
/// encoding only; the status travels in HTTP/2 trailers, or trailers-only when no message was sent.
/// </summary>
internal sealed class PodGrpcService(string podName)
{
    const int Ok = 0, Unknown = 2, DeadlineExceeded = 4, NotFound = 5, ResourceExhausted = 8, Unimplemented = 12, Internal = 13;
    const int MaxRequestBytes = 4 * 1024 * 1024;

    int _served;
    volatile bool _ready = true;

    /// <summary>Whether Health/Check answers SERVING; follows the pod's Ready condition.</summary>
    public bool Ready
    {
        get => _ready;
        set => _ready = value;
    }

    /// <summary>Whether a request is a gRPC call (HTTP/2, content-type application/grpc or application/grpc+...).</summary>
    public static bool IsGrpc(HttpRequest request) =>
        HttpProtocol.IsHttp2(request.Protocol) && request.ContentType is { } type
        && (type.Equals("application/grpc", StringComparison.OrdinalIgnoreCase) || type.StartsWith("application/grpc+", StringComparison.OrdinalIgnoreCase)
            || type.StartsWith("application/grpc;", StringComparison.OrdinalIgnoreCase));

    /// <summary>Serves one call.</summary>
    public async Task HandleAsync(HttpContext context)
    {
        var response = context.Response;
        response.StatusCode = 200;
        response.ContentType = "application/grpc";
        var timeout = ParseTimeout(context.Request.Headers["grpc-timeout"].ToString());
        using var deadline = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted);
        if (timeout is { } t) deadline.CancelAfter(t);
        var deadlineAt = timeout is { } d ? DateTimeOffset.UtcNow + d : (DateTimeOffset?)null;
        try
        {
            switch (context.Request.Path.Value)
            {
                case "/greet.Greeter/SayHello":
                    await SayHelloAsync(context, deadlineAt, deadline.Token);
                    break;
                case "/greet.Greeter/StreamHellos":
                    await StreamHellosAsync(context, deadline.Token);
                    break;
                case "/grpc.health.v1.Health/Check":
                    await CheckAsync(context, deadline.Token);
                    break;
                default:
                    await FinishAsync(response, Unimplemented, $"Method not found: {context.Request.Path.Value}");
                    break;
            }
        }
        catch (OperationCanceledException) when (context.RequestAborted.IsCancellationRequested)
        {
            // The client went away (RST_STREAM): nobody is left to read a status.
        }
        catch (OperationCanceledException) when (deadline.IsCancellationRequested)
        {
            await FinishAsync(response, DeadlineExceeded, "Deadline exceeded");
        }
        catch (BadRequestMessageException ex)
        {
            await FinishAsync(response, ex.Status, ex.Message);
        }
    }

    async Task SayHelloAsync(HttpContext context, DateTimeOffset? deadlineAt, CancellationToken ct)
    {
        var request = await ReadRequestAsync(context.Request, HelloRequest.Parser, ct);
        if (request.FailWithStatus != 0)
        {
            var status = request.FailWithStatus is > 0 and <= 16 ? request.FailWithStatus : Unknown;
            await FinishAsync(context.Response, status, request.FailMessage.Length > 0 ? request.FailMessage : $"asked to fail by {podName}");
            return;
        }
        var reply = new HelloReply
        {
            Message = $"Hello {request.Name}",
            Server = podName,
            Sequence = Interlocked.Increment(ref _served),
            DeadlineMs = deadlineAt is { } at ? Math.Max(0, (long)(at - DateTimeOffset.UtcNow).TotalMilliseconds) : -1,
        };
        await WriteMessageAsync(context.Response, reply, ct);
        await FinishAsync(context.Response, Ok, null);
    }

    async Task StreamHellosAsync(HttpContext context, CancellationToken ct)
    {
        var request = await ReadRequestAsync(context.Request, HelloStreamRequest.Parser, ct);
        var interval = TimeSpan.FromMilliseconds(Math.Max(0, request.IntervalMs));
        for (var sent = 1; request.Count <= 0 || sent <= request.Count; sent++)
        {
            if (sent > 1) await Task.Delay(interval, ct);
            await WriteMessageAsync(context.Response, new HelloReply { Message = $"Hello {request.Name}", Server = podName, Sequence = sent, DeadlineMs = -1 }, ct);
        }
        await FinishAsync(context.Response, Ok, null);
    }

    async Task CheckAsync(HttpContext context, CancellationToken ct)
    {
        var request = await ReadRequestAsync(context.Request, HealthCheckRequest.Parser, ct);
        if (request.Service is not ("" or "greet.Greeter"))
        {
            await FinishAsync(context.Response, NotFound, $"unknown service '{request.Service}'");
            return;
        }
        var status = Ready ? HealthCheckResponse.Types.ServingStatus.Serving : HealthCheckResponse.Types.ServingStatus.NotServing;
        await WriteMessageAsync(context.Response, new HealthCheckResponse { Status = status }, ct);
        await FinishAsync(context.Response, Ok, null);
    }

    /// <summary>Reads the single, length-prefixed request message of a unary or server-streaming call.</summary>
    static async Task<T> ReadRequestAsync<T>(HttpRequest request, MessageParser<T> parser, CancellationToken ct) where T : IMessage<T>
    {
        using var buffer = new MemoryStream();
        var chunk = new byte[16 * 1024];
        int read;
        while ((read = await request.Body.ReadAsync(chunk, ct)) > 0)
        {
            if (buffer.Length + read > MaxRequestBytes + 5) throw new BadRequestMessageException(ResourceExhausted, $"the request is larger than {MaxRequestBytes} bytes");
            buffer.Write(chunk, 0, read);
        }
        var bytes = buffer.GetBuffer().AsMemory(0, (int)buffer.Length);
        if (bytes.Length < 5) throw new BadRequestMessageException(Internal, "the call carries no request message");
        if (bytes.Span[0] != 0) throw new BadRequestMessageException(Unimplemented, "compressed messages are not supported (identity encoding only)");
        var length = BinaryPrimitives.ReadUInt32BigEndian(bytes.Span[1..5]);
        if (length != bytes.Length - 5) throw new BadRequestMessageException(Internal, $"expected exactly one request message: the prefix says {length} bytes, the body holds {bytes.Length - 5}");
        try
        {
            return parser.ParseFrom(bytes.Span[5..]);
        }
        catch (InvalidProtocolBufferException ex)
        {
            throw new BadRequestMessageException(Internal, $"the request message cannot be parsed: {ex.Message}");
        }
    }

    static async Task WriteMessageAsync(HttpResponse response, IMessage message, CancellationToken ct)
    {
        var size = message.CalculateSize();
        var frame = new byte[5 + size];
        BinaryPrimitives.WriteUInt32BigEndian(frame.AsSpan(1, 4), (uint)size);
        message.WriteTo(frame.AsSpan(5));
        await response.Body.WriteAsync(frame, ct);
        await response.Body.FlushAsync(ct);
    }

    /// <summary>Ends the call: in the trailers after messages, or trailers-only (the status in the headers) before any.</summary>
    static Task FinishAsync(HttpResponse response, int status, string? message)
    {
        var code = status.ToString(CultureInfo.InvariantCulture);
        if (!response.HasStarted)
        {
            response.Headers["grpc-status"] = code;
            if (message is not null) response.Headers["grpc-message"] = PercentEncode(message);
            return Task.CompletedTask;
        }
        response.AppendTrailer("grpc-status", code);
        if (message is not null) response.AppendTrailer("grpc-message", PercentEncode(message));
        return Task.CompletedTask;
    }

    /// <summary>grpc-message encoding: printable ASCII except '%' as is, everything else as %XX of its UTF-8 bytes.</summary>
    static string PercentEncode(string message)
    {
        var text = new StringBuilder(message.Length);
        foreach (var b in Encoding.UTF8.GetBytes(message))
        {
            if (b is >= 0x20 and <= 0x7E && b != (byte)'%') text.Append((char)b);
            else text.Append('%').Append(b.ToString("X2", CultureInfo.InvariantCulture));
        }
        return text.ToString();
    }

    /// <summary>Parses grpc-timeout (1-8 digits and a unit of H, M, S, m, u, n); null when absent or malformed.</summary>
    internal static TimeSpan? ParseTimeout(string value)
    {
        if (value.Length is < 2 or > 9 || !long.TryParse(value.AsSpan(0, value.Length - 1), NumberStyles.None, CultureInfo.InvariantCulture, out var amount)) return null;
        return value[^1] switch
        {
            'H' => TimeSpan.FromHours(amount),
            'M' => TimeSpan.FromMinutes(amount),
            'S' => TimeSpan.FromSeconds(amount),
            'm' => TimeSpan.FromMilliseconds(amount),
            'u' => TimeSpan.FromMicroseconds(amount),
            'n' => TimeSpan.FromTicks(amount / 100),
            _ => null,
        };
    }

    sealed class BadRequestMessageException(int status, string message) : Exception(message)
    {
        public int Status { get; } = status;
    }
}
