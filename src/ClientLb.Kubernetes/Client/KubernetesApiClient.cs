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
/// ClientLb's connection to the Kubernetes API over a KubernetesClient client's HttpClient (its TLS, credentials and
/// handlers): the requests ClientLb needs, sent by ClientLb (paged lists with a page cap, watches that complete when the
/// server accepts them, bounded error bodies) and decoded by ClientLb (source-generated JSON straight from the bytes,
/// one newline-delimited event at a time, only the fields it uses kept). Public as a handle (made once, given to the
/// agent's controller and relay); its requests and the objects they return are internal: the JSON model is not API.
/// </summary>
public sealed partial class KubernetesApiClient : IKubernetesApi, IDisposable
{
    private const string SlicesGroup = "apis/discovery.k8s.io/v1";
    private const string CoreGroup = "api/v1";
    private const int PageSize = 500;

    /// <summary>The most pages one list may take (500 objects each): a server paging on and on is an error, not a loop.</summary>
    public const int MaxListPages = 1_000;

    /// <summary>The largest list page read (500 EndpointSlices of 1,000 endpoints are about 125 MB).</summary>
    public const long MaxListPageBytes = 256L * 1024 * 1024;

    /// <summary>How much of an error response is read: enough for any Status, never a whole hostile body.</summary>
    public const int MaxErrorBodyBytes = 64 * 1024;

    private readonly HttpClient _http;
    private readonly k8s.Kubernetes? _owned;
    private readonly Uri _baseUri;
    // KubernetesClient authenticates each request (its token, token provider or basic credentials; a client certificate is on its handler).
    private readonly Func<HttpRequestMessage, CancellationToken, Task>? _authorize;
    private readonly string _displayServer;
    private readonly string _origin;
    private readonly TimeSpan _requestTimeout;
    private int _lastVersion;
    // Set for a handle over another implementation of the requests (tests serve them from memory): it sends nothing itself.
    private readonly IKubernetesApi? _over;

    /// <summary>
    /// Sends ClientLb's lists and watches through a KubernetesClient client (its HttpClient, TLS settings, handlers and
    /// credentials), e.g. the <c>IKubernetes</c> an application registered. The watch request, line framing and decoding
    /// stay ClientLb's. The client stays its owner's: disposing this does not dispose it.
    /// </summary>
    public KubernetesApiClient(k8s.Kubernetes kubernetes, TimeSpan? requestTimeout = null)
        : this(kubernetes, requestTimeout, "the KubernetesClient IKubernetes given to ClientLb", owned: false)
    {
    }

    private KubernetesApiClient(k8s.Kubernetes kubernetes, TimeSpan? requestTimeout, string origin, bool owned)
    {
        ArgumentNullException.ThrowIfNull(kubernetes);
        _http = kubernetes.HttpClient;
        _owned = owned ? kubernetes : null;
        _baseUri = WithTrailingSlash(kubernetes.BaseUri);
        _authorize = kubernetes.Credentials is { } credentials ? credentials.ProcessHttpRequestAsync : null;
        _requestTimeout = requestTimeout ?? TimeSpan.FromSeconds(30);
        _displayServer = KubernetesConnection.WithoutUserInfo(kubernetes.BaseUri);
        _origin = origin;
        Description = owned ? $"{_displayServer} ({origin})" : $"{_displayServer} (through {origin})";
    }

    /// <summary>A handle whose requests <paramref name="over"/> answers (tests serve them from memory); nothing is sent.</summary>
    internal KubernetesApiClient(IKubernetesApi over)
    {
        ArgumentNullException.ThrowIfNull(over);
        _over = over;
        _http = null!; // never used: every request goes to _over
        _baseUri = new Uri("memory:///");
        _requestTimeout = TimeSpan.FromSeconds(30);
        _displayServer = _origin = Description = over.Description;
    }

    /// <summary>
    /// A client over a new KubernetesClient client built from <paramref name="configuration"/> with ClientLb's additions
    /// (<see cref="KubernetesConnection.CreateClient"/>); disposing this disposes it.
    /// </summary>
    public static KubernetesApiClient FromConfiguration(k8s.KubernetesClientConfiguration configuration, TimeSpan? requestTimeout = null)
    {
        ArgumentNullException.ThrowIfNull(configuration);
        return new KubernetesApiClient(KubernetesConnection.CreateClient(configuration), requestTimeout, KubernetesConnection.Origin(configuration), owned: true);
    }

    /// <summary>The bearer token the requests carry now (null without one): what the node relay is shown as the caller's identity.</summary>
    internal async ValueTask<string?> GetBearerTokenAsync(CancellationToken cancellationToken)
    {
        if (_authorize is null)
        {
            return null;
        }
        using var probe = new HttpRequestMessage(HttpMethod.Get, _baseUri);
        await _authorize(probe, cancellationToken).ConfigureAwait(false);
        return probe.Headers.Authorization is { Scheme: "Bearer", Parameter: { Length: > 0 } token } ? token : null;
    }

    private static Uri WithTrailingSlash(Uri server) => server.AbsoluteUri.EndsWith('/') ? server : new Uri(server.AbsoluteUri + "/");

    /// <summary>The API server's address (whether it is on loopback decides about loopback endpoints, see <see cref="KubernetesSourceOptions.AllowLoopbackEndpoints"/>).</summary>
    public Uri Server => _baseUri;

    /// <summary>The largest watch event accepted (default 16 MB); a larger one ends the watch with an error naming the object.</summary>
    public int MaxEventBytes { get; set; } = WatchLines.MaxLineBytes;

    /// <inheritdoc />
    public string Description { get; }

    /// <summary>The HTTP version of the last response (2.0 when the server negotiated HTTP/2).</summary>
    public Version? LastHttpVersion => Volatile.Read(ref _lastVersion) switch
    {
        0 => null,
        int v => new Version(v / 10, v % 10),
    };

    /// <inheritdoc cref="IKubernetesApi.ListEndpointSlicesAsync" />
    internal Task<KubernetesList<EndpointSlice>> ListEndpointSlicesAsync(string @namespace, ListOptions options, CancellationToken cancellationToken) =>
        _over?.ListEndpointSlicesAsync(@namespace, options, cancellationToken) ?? ListAsync(Path(SlicesGroup, @namespace, "endpointslices"), options, KubernetesJsonContext.Default.KubernetesListEndpointSlice, cancellationToken);

    /// <inheritdoc cref="IKubernetesApi.WatchEndpointSlicesAsync" />
    internal Task<IWatchStream<EndpointSlice>> WatchEndpointSlicesAsync(string @namespace, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken) =>
        _over?.WatchEndpointSlicesAsync(@namespace, options, resourceVersion, timeout, cancellationToken) ?? WatchAsync(Path(SlicesGroup, @namespace, "endpointslices"), options, resourceVersion, timeout, KubernetesJsonContext.Default.WatchEventEndpointSlice, cancellationToken);

    /// <inheritdoc cref="IKubernetesApi.ListServicesAsync" />
    internal Task<KubernetesList<Service>> ListServicesAsync(string @namespace, ListOptions options, CancellationToken cancellationToken) =>
        _over?.ListServicesAsync(@namespace, options, cancellationToken) ?? ListAsync(Path(CoreGroup, @namespace, "services"), options, KubernetesJsonContext.Default.KubernetesListService, cancellationToken);

    /// <inheritdoc cref="IKubernetesApi.WatchServicesAsync" />
    internal Task<IWatchStream<Service>> WatchServicesAsync(string @namespace, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken) =>
        _over?.WatchServicesAsync(@namespace, options, resourceVersion, timeout, cancellationToken) ?? WatchAsync(Path(CoreGroup, @namespace, "services"), options, resourceVersion, timeout, KubernetesJsonContext.Default.WatchEventService, cancellationToken);

    /// <inheritdoc cref="IKubernetesApi.GetServiceAsync" />
    internal async Task<Service?> GetServiceAsync(string @namespace, string name, CancellationToken cancellationToken)
    {
        ArgumentException.ThrowIfNullOrEmpty(@namespace);
        ArgumentException.ThrowIfNullOrEmpty(name);
        if (_over is not null)
        {
            return await _over.GetServiceAsync(@namespace, name, cancellationToken).ConfigureAwait(false);
        }
        string path = Path(CoreGroup, @namespace, "services") + "/" + Uri.EscapeDataString(name);
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
        timeout.CancelAfter(_requestTimeout);
        HttpResponseMessage response;
        try
        {
            response = await SendAsync("get", path, "", HttpCompletionOption.ResponseHeadersRead, timeout.Token, cancellationToken).ConfigureAwait(false);
        }
        catch (KubernetesApiException ex) when (ex.StatusCode == HttpStatusCode.NotFound)
        {
            return null;
        }
        using (response)
        {
            string text = await ReadBoundedAsync(response, MaxEventBytes, timeout.Token).ConfigureAwait(false);
            try
            {
                return JsonSerializer.Deserialize(text, KubernetesJsonContext.Default.Service)
                    ?? throw new InvalidDataException($"get {path}: the server sent null");
            }
            catch (JsonException ex)
            {
                throw new InvalidDataException($"get {path}: the answer is not a Service: {ex.Message}", ex);
            }
        }
    }

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
        // A server that sends a continue token again (the same page, or a cycle) would page forever.
        var seen = new HashSet<string>(StringComparer.Ordinal);
        int pages = 0;
        do
        {
            if (++pages > MaxListPages)
            {
                throw new InvalidDataException($"list {path}: the server is still paging after {MaxListPages:N0} pages of {PageSize}; giving up this list");
            }
            string query = Query(options, ("limit", PageSize.ToString(CultureInfo.InvariantCulture)), ("continue", continueToken));
            using var timeout = CancellationTokenSource.CreateLinkedTokenSource(cancellationToken);
            timeout.CancelAfter(_requestTimeout);
            using HttpResponseMessage response = await SendAsync("list", path, query, HttpCompletionOption.ResponseHeadersRead, timeout.Token, cancellationToken).ConfigureAwait(false);
            KubernetesList<T> page = await ReadPageAsync(response, type, path, timeout.Token).ConfigureAwait(false);
            page.Items ??= [];
            if (result is null)
            {
                // The first page's resourceVersion is the snapshot every later page belongs to.
                result = page;
            }
            else
            {
                result.Items.AddRange(page.Items);
                result.Skipped.AddRange(page.Skipped);
            }
            continueToken = string.IsNullOrEmpty(page.Metadata?.Continue) ? null : page.Metadata.Continue;
            if (continueToken is not null && !seen.Add(continueToken))
            {
                throw new InvalidDataException($"list {path}: page {pages} repeats the continue token of an earlier page; the list would never end");
            }
        }
        while (continueToken is not null);
        result.Metadata?.Continue = null;
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
            return new HttpWatchStream<T>(response, body, type, path, MaxEventBytes);
        }
        catch
        {
            response.Dispose();
            throw;
        }
    }

    /// <summary>
    /// Reads the Service <paramref name="name"/> and its EndpointSlices in <paramref name="namespace"/> with this client's
    /// credentials, and returns when both reads are allowed; throws <see cref="KubernetesApiException"/> (401, 403, ...)
    /// when one is not. The node relay's agent checks an SDK's token this way before it serves the SDK the service.
    /// </summary>
    public async Task CheckReadAccessAsync(string @namespace, string name, CancellationToken cancellationToken = default)
    {
        ArgumentException.ThrowIfNullOrEmpty(@namespace);
        ArgumentException.ThrowIfNullOrEmpty(name);
        await ListServicesAsync(@namespace, new ListOptions(FieldSelector: "metadata.name=" + name), cancellationToken).ConfigureAwait(false);
        await ListEndpointSlicesAsync(@namespace, new ListOptions(LabelSelector: ObjectMeta.ServiceNameKey + "=" + name), cancellationToken).ConfigureAwait(false);
    }

    // The interface is internal (its types are the JSON model): explicit implementations, so the methods above stay internal.
    Task<KubernetesList<EndpointSlice>> IKubernetesApi.ListEndpointSlicesAsync(string @namespace, ListOptions options, CancellationToken cancellationToken) =>
        ListEndpointSlicesAsync(@namespace, options, cancellationToken);

    Task<IWatchStream<EndpointSlice>> IKubernetesApi.WatchEndpointSlicesAsync(string @namespace, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken) =>
        WatchEndpointSlicesAsync(@namespace, options, resourceVersion, timeout, cancellationToken);

    Task<KubernetesList<Service>> IKubernetesApi.ListServicesAsync(string @namespace, ListOptions options, CancellationToken cancellationToken) =>
        ListServicesAsync(@namespace, options, cancellationToken);

    Task<IWatchStream<Service>> IKubernetesApi.WatchServicesAsync(string @namespace, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken) =>
        WatchServicesAsync(@namespace, options, resourceVersion, timeout, cancellationToken);

    Task<Service?> IKubernetesApi.GetServiceAsync(string @namespace, string name, CancellationToken cancellationToken) =>
        GetServiceAsync(@namespace, name, cancellationToken);


    private async Task<HttpResponseMessage> SendAsync(string verb, string path, string query, HttpCompletionOption completion, CancellationToken token, CancellationToken callerToken)
    {
        using var request = new HttpRequestMessage(HttpMethod.Get, new Uri(_baseUri, path + query))
        {
            Version = HttpVersion.Version20,
            VersionPolicy = HttpVersionPolicy.RequestVersionOrLower,
        };
        request.Headers.Accept.Add(new MediaTypeWithQualityHeaderValue("application/json"));
        request.Headers.UserAgent.Add(new ProductInfoHeaderValue("ClientLb.Kubernetes", "1.0"));
        if (_authorize is not null)
        {
            await _authorize(request, callerToken).ConfigureAwait(false);
        }
        HttpResponseMessage response;
        try
        {
            response = await _http.SendAsync(request, completion, token).ConfigureAwait(false);
        }
        catch (OperationCanceledException ex) when (!callerToken.IsCancellationRequested)
        {
            throw new TimeoutException($"{verb} {path}: no answer from {_displayServer} within {_requestTimeout.TotalSeconds:0.#} s", ex);
        }
        catch (HttpRequestException ex)
        {
            // The inner message names the socket error or the certificate refusal; the request's headers (the token) are never part of it.
            string why = ex.InnerException is System.Security.Authentication.AuthenticationException auth ? "TLS: " + auth.Message : ex.Message;
            throw new HttpRequestException($"{verb} {path}: cannot reach the API server {_displayServer}: {why}", ex, ex.StatusCode);
        }
        Volatile.Write(ref _lastVersion, response.Version.Major * 10 + response.Version.Minor);
        if (response.IsSuccessStatusCode)
        {
            return response;
        }
        using (response)
        {
            // A 401 was already retried once with a fresh token by CredentialRefreshHandler in the client's pipeline.
            throw await ErrorAsync(verb, path, response, token).ConfigureAwait(false);
        }
    }

    private async Task<KubernetesApiException> ErrorAsync(string verb, string path, HttpResponseMessage response, CancellationToken cancellationToken)
    {
        Status? status = null;
        try
        {
            string text = await ReadBoundedAsync(response, MaxErrorBodyBytes, cancellationToken).ConfigureAwait(false);
            status = text.StartsWith('{') ? JsonSerializer.Deserialize(text, KubernetesJsonContext.Default.Status) : new Status { Message = text.Length > 200 ? text[..200] : text };
        }
        catch (JsonException)
        {
        }
        catch (IOException)
        {
            // The body broke off: the status code says enough.
        }
        TimeSpan? retryAfter = response.Headers.RetryAfter switch
        {
            { Delta: TimeSpan delta } => delta,
            { Date: DateTimeOffset date } => date - DateTimeOffset.UtcNow,
            _ => null,
        };
        string? hint = response.StatusCode switch
        {
            HttpStatusCode.Unauthorized => $"The API server did not accept the credentials from {_origin}",
            HttpStatusCode.Forbidden => RbacHint,
            _ => null,
        };
        return new KubernetesApiException(verb, path, response.StatusCode, status, retryAfter, hint);
    }

    /// <summary>At most <paramref name="limit"/> bytes of the body as text; the rest is never read.</summary>
    private static async Task<string> ReadBoundedAsync(HttpResponseMessage response, int limit, CancellationToken cancellationToken)
    {
        Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            byte[] buffer = ArrayPool<byte>.Shared.Rent(limit);
            try
            {
                int length = 0;
                while (length < limit && await body.ReadAsync(buffer.AsMemory(length, limit - length), cancellationToken).ConfigureAwait(false) is int read and > 0)
                {
                    length += read;
                }
                return Encoding.UTF8.GetString(buffer, 0, length);
            }
            finally
            {
                ArrayPool<byte>.Shared.Return(buffer);
            }
        }
    }

    /// <summary>The RBAC rule the source needs, quoted in 403 errors.</summary>
    public const string RbacHint =
        "ClientLb's Kubernetes source needs list and watch on endpointslices.discovery.k8s.io, and get (or get, list and watch) on services in the namespace: " +
        "a Role with rules [{apiGroups: [\"discovery.k8s.io\"], resources: [\"endpointslices\"], verbs: [\"get\",\"list\",\"watch\"]}, " +
        "{apiGroups: [\"\"], resources: [\"services\"], verbs: [\"get\",\"list\",\"watch\"]}] bound to the pod's service account";

    /// <inheritdoc />
    public void Dispose()
    {
        _owned?.Dispose(); // a handed-over KubernetesClient client stays its owner's
    }
}
