using System.Net;
using System.Runtime.CompilerServices;
using ClientLb.Grpc.Protocol;
using Google.Protobuf;

namespace ClientLb.Grpc.Calls;

/// <summary>
/// A small gRPC caller over an <see cref="HttpMessageInvoker"/> (unary and server-streaming calls, protobuf messages,
/// identity encoding): what the health checks use, and a stand-in where Grpc.Net.Client is not available. With
/// Grpc.Net.Client, give ClientLb's handler to <c>GrpcChannelOptions.HttpHandler</c> instead.
/// </summary>
public sealed class GrpcCaller
{
    private readonly HttpMessageInvoker _invoker;
    private readonly Uri _address;

    /// <summary>Creates a caller.</summary>
    /// <param name="invoker">Sends the HTTP/2 requests: an HttpClient, or a handler such as ClientLb's gRPC handler.</param>
    /// <param name="address">The service address, <c>http://greeter.shop</c> or <c>https://greeter.shop:8443</c> (no path).</param>
    public GrpcCaller(HttpMessageInvoker invoker, Uri address)
    {
        _invoker = invoker ?? throw new ArgumentNullException(nameof(invoker));
        ArgumentNullException.ThrowIfNull(address);
        if (!address.IsAbsoluteUri || address.Scheme is not ("http" or "https") || address.AbsolutePath != "/" || address.Query.Length > 0)
        {
            throw new ArgumentException($"The gRPC address '{address}' must be an absolute http or https URI without a path or query, e.g. 'http://greeter.shop'.", nameof(address));
        }
        _address = address;
    }

    /// <summary>The service address.</summary>
    public Uri Address => _address;

    /// <summary>Makes a unary call.</summary>
    /// <param name="method">The method, <c>/package.Service/Method</c>.</param>
    /// <param name="request">The request message.</param>
    /// <param name="parser">The response message's parser, e.g. <c>HelloReply.Parser</c>.</param>
    /// <param name="options">Deadline and metadata.</param>
    /// <param name="cancellationToken">Cancels the call (it fails with CANCELLED).</param>
    /// <exception cref="GrpcCallException">The call ended with a status other than OK.</exception>
    public async Task<TResponse> UnaryAsync<TResponse>(string method, IMessage request, MessageParser<TResponse> parser, GrpcCallOptions? options = null, CancellationToken cancellationToken = default)
        where TResponse : class, IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(parser);
        using var call = new Call(this, method, options, cancellationToken);
        using HttpResponseMessage response = await call.StartAsync(request).ConfigureAwait(false);
        return await call.ReadUnaryAsync(response, parser).ConfigureAwait(false);
    }

    /// <summary>Makes a server-streaming call; disposing the enumerator early cancels the call.</summary>
    /// <exception cref="GrpcCallException">The call ended with a status other than OK (thrown while enumerating).</exception>
    public async IAsyncEnumerable<TResponse> ServerStreamingAsync<TResponse>(string method, IMessage request, MessageParser<TResponse> parser,
        GrpcCallOptions? options = null, [EnumeratorCancellation] CancellationToken cancellationToken = default)
        where TResponse : class, IMessage<TResponse>
    {
        ArgumentNullException.ThrowIfNull(parser);
        using var call = new Call(this, method, options, cancellationToken);
        using HttpResponseMessage response = await call.StartAsync(request).ConfigureAwait(false);
        await using Stream? body = await call.OpenBodyAsync(response).ConfigureAwait(false);
        if (body is null)
        {
            yield break;
        }
        while (await call.ReadAsync(body, parser).ConfigureAwait(false) is TResponse message)
        {
            yield return message;
        }
        call.EnsureOk(response);
    }

    /// <summary>One call: its method, deadline and cancellation, and the mapping of every failure to a status.</summary>
    private sealed class Call : IDisposable
    {
        private readonly GrpcCaller _caller;
        private readonly string _method;
        private readonly GrpcCallOptions? _options;
        private readonly CancellationToken _callerToken;
        private readonly CancellationTokenSource? _deadline;

        public Call(GrpcCaller caller, string method, GrpcCallOptions? options, CancellationToken cancellationToken)
        {
            _caller = caller;
            _method = ValidateMethod(method);
            _options = options;
            _callerToken = cancellationToken;
            if (options?.Timeout is TimeSpan timeout)
            {
                if (timeout <= TimeSpan.Zero)
                {
                    throw new ArgumentOutOfRangeException(nameof(options), timeout, $"The timeout of call {_method} must be positive.");
                }
                _deadline = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
                _deadline.CancelAfter(timeout);
            }
        }

        private CancellationToken Token => _deadline?.Token ?? _callerToken;

        public async Task<HttpResponseMessage> StartAsync(IMessage request)
        {
            ArgumentNullException.ThrowIfNull(request);
            var message = new HttpRequestMessage(HttpMethod.Post, new Uri(_caller._address, _method))
            {
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionExact,
                Content = new GrpcMessageContent(request),
            };
            message.Headers.TryAddWithoutValidation("te", "trailers");
            if (_options?.Timeout is TimeSpan timeout)
            {
                message.Headers.TryAddWithoutValidation(GrpcTimeout.HeaderName, GrpcTimeout.Format(timeout));
            }
            foreach ((string name, string value) in _options?.Headers ?? new Dictionary<string, string>())
            {
                if (name.EndsWith("-bin", StringComparison.Ordinal) || !message.Headers.TryAddWithoutValidation(name, value))
                {
                    throw new ArgumentException($"The metadata entry '{name}' of call {_method} is not a valid ASCII header (binary '-bin' metadata is not supported).", nameof(request));
                }
            }
            try
            {
                HttpResponseMessage response = _caller._invoker is HttpClient client
                    ? await client.SendAsync(message, HttpCompletionOption.ResponseHeadersRead, Token).ConfigureAwait(false)
                    : await _caller._invoker.SendAsync(message, Token).ConfigureAwait(false);
                return response;
            }
            catch (Exception ex) when (Map(ex) is GrpcCallException mapped)
            {
                throw mapped;
            }
        }

        public async Task<T> ReadUnaryAsync<T>(HttpResponseMessage response, MessageParser<T> parser) where T : class, IMessage<T>
        {
            await using Stream? body = await OpenBodyAsync(response).ConfigureAwait(false);
            if (body is null)
            {
                throw Fail(new GrpcStatus(GrpcStatusCode.Internal, "The server answered OK without a response message."));
            }
            T? message = await ReadAsync(body, parser).ConfigureAwait(false);
            if (message is not null && await ReadAsync(body, parser).ConfigureAwait(false) is not null)
            {
                throw Fail(new GrpcStatus(GrpcStatusCode.Internal, "The server sent more than one response message to a unary call."));
            }
            EnsureOk(response);
            return message ?? throw Fail(new GrpcStatus(GrpcStatusCode.Internal, "The server answered OK without a response message."));
        }

        /// <summary>The response body, or null for a trailers-only OK (no messages); throws for any other failure status.</summary>
        public async Task<Stream?> OpenBodyAsync(HttpResponseMessage response)
        {
            if (GrpcStatus.FromHttpStatus(response.StatusCode) is GrpcStatus httpStatus)
            {
                throw Fail(httpStatus);
            }
            if (GrpcStatus.FromHeaders(response.Headers) is GrpcStatus trailersOnly)
            {
                return trailersOnly.Code == GrpcStatusCode.OK ? null : throw Fail(trailersOnly);
            }
            string? contentType = response.Content.Headers.ContentType?.MediaType;
            if (contentType is null || !contentType.StartsWith("application/grpc", StringComparison.OrdinalIgnoreCase))
            {
                throw Fail(new GrpcStatus(GrpcStatusCode.Internal, $"The response content type '{contentType}' is not application/grpc."));
            }
            try
            {
                return await response.Content.ReadAsStreamAsync(Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (Map(ex) is GrpcCallException mapped)
            {
                throw mapped;
            }
        }

        public async Task<T?> ReadAsync<T>(Stream body, MessageParser<T> parser) where T : class, IMessage<T>
        {
            try
            {
                return await GrpcFraming.ReadAsync(body, parser, GrpcFraming.DefaultMaxMessageSize, Token).ConfigureAwait(false);
            }
            catch (Exception ex) when (Map(ex) is GrpcCallException mapped)
            {
                throw mapped;
            }
        }

        /// <summary>After the body ended: the status is in the trailers.</summary>
        public void EnsureOk(HttpResponseMessage response)
        {
            GrpcStatus status = GrpcStatus.FromHeaders(response.TrailingHeaders)
                ?? new GrpcStatus(GrpcStatusCode.Internal, "The response ended without a grpc-status trailer.");
            if (status.Code != GrpcStatusCode.OK)
            {
                throw Fail(status);
            }
        }

        private GrpcCallException Fail(GrpcStatus status, Exception? inner = null) => new(_method, status, inner);

        // Transport failures become statuses the way Grpc.Net.Client maps them: UNAVAILABLE, DEADLINE_EXCEEDED, CANCELLED.
        private GrpcCallException? Map(Exception ex) => ex switch
        {
            GrpcCallException => null,
            OperationCanceledException when _deadline is { IsCancellationRequested: true } && !_callerToken.IsCancellationRequested =>
                Fail(new GrpcStatus(GrpcStatusCode.DeadlineExceeded, "The deadline passed before the call completed."), ex),
            OperationCanceledException => Fail(new GrpcStatus(GrpcStatusCode.Cancelled, "The call was cancelled."), ex),
            GrpcProtocolException => Fail(new GrpcStatus(GrpcStatusCode.Internal, ex.Message), ex),
            InvalidProtocolBufferException => Fail(new GrpcStatus(GrpcStatusCode.Internal, "The response message could not be parsed: " + ex.Message), ex),
            HttpRequestException or IOException or ObjectDisposedException => Fail(new GrpcStatus(GrpcStatusCode.Unavailable, "Error in the transport: " + ex.Message), ex),
            _ => null,
        };

        private static string ValidateMethod(string method)
        {
            ArgumentException.ThrowIfNullOrEmpty(method);
            string path = method[0] == '/' ? method : "/" + method;
            int slash = path.IndexOf('/', 1);
            if (slash <= 1 || slash == path.Length - 1 || path.IndexOf('/', slash + 1) >= 0 || path.IndexOfAny(['?', '#', ' ']) >= 0)
            {
                throw new ArgumentException($"The gRPC method '{method}' must be '/package.Service/Method'.", nameof(method));
            }
            return path;
        }

        public void Dispose() => _deadline?.Dispose();
    }
}
