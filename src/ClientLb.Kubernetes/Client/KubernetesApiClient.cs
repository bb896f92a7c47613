using System.Buffers;
using System.Globalization;
using System.Net;
using System.Net.Http.Headers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ClientLb.Kubernetes.Config;
using ClientLb.Kubernetes.Model;

namespace ClientLb.Kubernetes.Client;

/// <summary>
/// <see cref="IKubernetesApi"/> over HttpClient: JSON with source-generated metadata, bearer token or client
/// certificate, HTTP/2 when the server offers it (ALPN), paged lists, newline-delimited watch streams. This is
/// the part of KubernetesClient that ClientLb needs, written here because that package is not available.
/// </summary>
public sealed class KubernetesApiClient : IKubernetesApi, IDisposable
{
    private const string SlicesGroup = "apis/discovery.k8s.io/v1";
    private const string CoreGroup = "api/v1";
    private const int PageSize = 500;

    private readonly HttpClient _http;
    private readonly BearerTokenSource? _tokens;
    private readonly TimeSpan _requestTimeout;
    private int _lastVersion;

    /// <summary>Creates a client for <paramref name="configuration"/>.</summary>
    public KubernetesApiClient(KubernetesClientConfiguration configuration, TimeSpan? requestTimeout = null, TimeProvider? timeProvider = null)
        : this(configuration, ApiHttpHandlerFactory.Create(configuration ?? throw new ArgumentNullException(nameof(configuration))), requestTimeout, timeProvider)
    {
    }

    internal KubernetesApiClient(KubernetesClientConfiguration configuration, HttpMessageHandler handler, TimeSpan? requestTimeout = null, TimeProvider? timeProvider = null)
    {
        Configuration = configuration;
        _tokens = configuration.CreateTokenSource(timeProvider ?? TimeProvider.System);
        _requestTimeout = requestTimeout ?? TimeSpan.FromSeconds(30);
        _http = new HttpClient(handler) { BaseAddress = configuration.Server, Timeout = Timeout.InfiniteTimeSpan };
    }

    /// <summary>The configuration in use.</summary>
    public KubernetesClientConfiguration Configuration { get; }

    /// <inheritdoc />
    public string Description => Configuration.ToString();

    /// <summary>The HTTP version of the last response (2.0 when the server negotiated HTTP/2).</summary>
    public Version? LastHttpVersion => Volatile.Read(ref _lastVersion) switch
    {
        0 => null,
        int v => new Version(v / 10, v % 10),
    };

    /// <inheritdoc />
    public Task<KubernetesList<EndpointSlice>> ListEndpointSlicesAsync(string @namespace, ListOptions options, CancellationToken cancellationToken) =>
        ListAsync(Path(SlicesGroup, @namespace, "endpointslices"), options, KubernetesJsonContext.Default.KubernetesListEndpointSlice, cancellationToken);

    /// <inheritdoc />
    public Task<IWatchStream<EndpointSlice>> WatchEndpointSlicesAsync(string @namespace, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken) =>
        WatchAsync(Path(SlicesGroup, @namespace, "endpointslices"), options, resourceVersion, timeout, KubernetesJsonContext.Default.WatchEventEndpointSlice, cancellationToken);

    /// <inheritdoc />
    public Task<KubernetesList<Service>> ListServicesAsync(string @namespace, ListOptions options, CancellationToken cancellationToken) =>
        ListAsync(Path(CoreGroup, @namespace, "services"), options, KubernetesJsonContext.Default.KubernetesListService, cancellationToken);

    /// <inheritdoc />
    public Task<IWatchStream<Service>> WatchServicesAsync(string @namespace, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken) =>
        WatchAsync(Path(CoreGroup, @namespace, "services"), options, resourceVersion, timeout, KubernetesJsonContext.Default.WatchEventService, cancellationToken);

    private static string Path(string group, string ns, string resource)
    {
        ArgumentNullException.ThrowIfNull(ns);
        // An empty namespace means all namespaces (the cluster-wide collection), as in the API and KubernetesClient.
        return ns.Length == 0 ? $"{group}/{resource}" : $"{group}/namespaces/{Uri.EscapeDataString(ns)}/{resource}";
    }

    private static string Query(ListOptions options, params (string Key, string? Value)[] extra)
    {
        var sb = new StringBuilder();
        void Add(string key, string? value)
        {
            if (value is null)
            {
                return;
            }
            sb.Append(sb.Length == 0 ? '?' : '&').Append(key).Append('=').Append(Uri.EscapeDataString(value));
        }
        Add("labelSelector", options.LabelSelector);
        Add("fieldSelector", options.FieldSelector);
        foreach ((string key, string? value) in extra)
        {
            Add(key, value);
        }
        return sb.ToString();
    }

    private async Task<KubernetesList<T>> ListAsync<T>(string path, ListOptions options, JsonTypeInfo<KubernetesList<T>> type, CancellationToken cancellationToken)
    {
        KubernetesList<T>? result = null;
        string? continueToken = null;
        do
        {
            string query = Query(options, ("limit", PageSize.ToString(CultureInfo.InvariantCulture)), ("continue", continueToken));
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_requestTimeout);
            using HttpResponseMessage response = await SendAsync("list", path, query, HttpCompletionOption.ResponseContentRead, timeout.Token, cancellationToken).ConfigureAwait(false);
            KubernetesList<T> page = await ReadJsonAsync(response, type, "list", path, timeout.Token).ConfigureAwait(false);
            if (result is null)
            {
                // The first page's resourceVersion is the snapshot every later page belongs to.
                result = page;
            }
            else
            {
                result.Items.AddRange(page.Items);
            }
            continueToken = string.IsNullOrEmpty(page.Metadata.Continue) ? null : page.Metadata.Continue;
        }
        while (continueToken is not null);
        result.Metadata.Continue = null;
        return result;
    }

    private async Task<IWatchStream<T>> WatchAsync<T>(string path, ListOptions options, string resourceVersion, TimeSpan timeout, JsonTypeInfo<WatchEvent<T>> type,
        CancellationToken cancellationToken)
    {
        string query = Query(options, ("watch", "1"), ("resourceVersion", resourceVersion), ("allowWatchBookmarks", "true"),
            ("timeoutSeconds", Math.Max(1, (int)timeout.TotalSeconds).ToString(CultureInfo.InvariantCulture)));
        using var connect = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        connect.CancelAfter(_requestTimeout);
        HttpResponseMessage response = await SendAsync("watch", path, query, HttpCompletionOption.ResponseHeadersRead, connect.Token, cancellationToken).ConfigureAwait(false);
        try
        {
            Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            return new HttpWatchStream<T>(response, body, type, path);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    private sealed class HttpWatchStream<T>(HttpResponseMessage response, Stream body, JsonTypeInfo<WatchEvent<T>> type, string path) : IWatchStream<T>
    {
        public async IAsyncEnumerable<WatchEvent<T>> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (WatchEvent<T> e in WatchLines.ReadAsync(body, path, line => ParseEvent(line, type, path), cancellationToken).ConfigureAwait(false))
            {
                yield return e;
            }
        }

        public async ValueTask DisposeAsync()
        {
            await body.DisposeAsync().ConfigureAwait(false);
            response.Dispose();
        }
    }

    internal static WatchEvent<T> ParseEvent<T>(string line, JsonTypeInfo<WatchEvent<T>> type, string path) =>
        ParseEvent(new ReadOnlySequence<byte>(Encoding.UTF8.GetBytes(line)), type, path);

    /// <summary>One watch event from its line of UTF-8 JSON; an ERROR event's object is decoded as a Status.</summary>
    internal static WatchEvent<T> ParseEvent<T>(ReadOnlySequence<byte> line, JsonTypeInfo<WatchEvent<T>> type, string path)
    {
        try
        {
            var reader = new Utf8JsonReader(line);
            WatchEvent<T> e = JsonSerializer.Deserialize(ref reader, type) ?? throw new JsonException("null event");
            if (e.Type == WatchEventTypes.Error)
            {
                e.Object = default;
                var again = new Utf8JsonReader(line);
                e.Status = JsonSerializer.Deserialize(ref again, KubernetesJsonContext.Default.WatchEventStatus)?.Object;
            }
            return e;
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"watch {path}: the server sent an event that is not valid JSON: {ex.Message}", ex);
        }
    }

    private async Task<HttpResponseMessage> SendAsync(string verb, string path, string query, HttpCompletionOption completion, CancellationToken token, CancellationToken callerToken)
    {
        for (int attempt = 0; ; attempt++)
        {
            using var request = new HttpRequestMessage(HttpMethod.Get, path + query)
            {
                Version = HttpVersion.Version20,
                VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
            };
            request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
            request.Headers.UserAgent.Add(new ProductInfoHeaderValue("ClientLb.Kubernetes", "1.0"));
            if (_tokens is not null && await _tokens.GetTokenAsync(callerToken).ConfigureAwait(false) is string bearer)
            {
                request.Headers.Authorization = new AuthenticationHeaderValue("Bearer", bearer);
            }
            HttpResponseMessage response;
            try
            {
                response = await _http.SendAsync(request, completion, token).ConfigureAwait(false);
            }
            catch (OperationCanceledException ex) when (!callerToken.IsCancellationRequested)
            {
                throw new TimeoutException($"{verb} {path}: no answer from {Configuration.Server} within {_requestTimeout.TotalSeconds:0.#} s", ex);
            }
            catch (HttpRequestException ex)
            {
                // The inner message names the socket error; the request's headers (the token) are never part of it.
                throw new HttpRequestException($"{verb} {path}: cannot reach the API server {Configuration.Server}: {ex.Message}", ex, ex.StatusCode);
            }
            Volatile.Write(ref _lastVersion, response.Version.Major * 10 + response.Version.Minor);
            if (response.IsSuccessStatusCode)
            {
                return response;
            }
            using (response)
            {
                if (response.StatusCode == HttpStatusCode.Unauthorized && attempt == 0 && _tokens is not null)
                {
                    // A rotated token file or an expired plugin token: get it again and retry once.
                    _tokens.Invalidate();
                    continue;
                }
                throw await ErrorAsync(verb, path, response, token).ConfigureAwait(false);
            }
        }
    }

    private async Task<KubernetesApiException> ErrorAsync(string verb, string path, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        Status? status = null;
        try
        {
            string text = await response.Content.ReadAsStringAsync(cancellationToken).ConfigureAwait(false);
            status = text.StartsWith('{') ? JsonSerializer.Deserialize(text, KubernetesJsonContext.Default.Status) : new Status { Message = text.Length > 200 ? text[..200] : text };
        }
        catch (JsonException)
        {
        }
        TimeSpan? retryAfter = response.Headers.RetryAfter switch
        {
            { Delta: TimeSpan delta } => delta,
            { Date: DateTimeOffset date } => date - DateTimeOffset.UtcNow,
            _ => null,
        };
        string? hint = response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => $"The API server did not accept the credentials from {Configuration.Origin}",
            HttpStatusCode.Forbidden => RbacHint,
            _ => null,
        };
        return new KubernetesApiException(verb, path, response.StatusCode, status, retryAfter, hint);
    }

    /// <summary>The RBAC rule the source needs, quoted in 403 errors.</summary>
    public const string RbacHint =
        "ClientLb's Kubernetes source needs get, list and watch on endpointslices.discovery.k8s.io and on services in the namespace: " +
        "a Role with rules [{apiGroups: [\"discovery.k8s.io\"], resources: [\"endpointslices\"], verbs: [\"get\",\"list\",\"watch\"]}, " +
        "{apiGroups: [\"\"], resources: [\"services\"], verbs: [\"get\",\"list\",\"watch\"]}] bound to the pod's service account";

    private static async Task<T> ReadJsonAsync<T>(HttpResponseMessage response, JsonTypeInfo<T> type, string verb, string path, CancellationToken cancellationToken)
    {
        try
        {
            Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
            await using (body.ConfigureAwait(false))
            {
                return await JsonSerializer.DeserializeAsync(body, type, cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidDataException($"{verb} {path}: the server sent null");
            }
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"{verb} {path}: the server's answer is not a valid {typeof(T).Name}: {ex.Message}", ex);
        }
    }

    /// <inheritdoc />
    public void Dispose() => _http.Dispose();
}
