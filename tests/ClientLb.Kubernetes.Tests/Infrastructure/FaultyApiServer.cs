using System.Globalization;
using System.Net;
using System.Net.Security;
using System.Text;
using System.Threading.Channels;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.AspNetCore.Server.Kestrel.Https;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Time.Testing;

namespace ClientLb.Kubernetes.Tests.Infrastructure;

/// <summary>One request the fault-injecting API server received: what, and when on the test's fake clock.</summary>
public sealed record ApiHit(string Resource, bool Watch, string? ResourceVersion, string? Continue, DateTimeOffset At)
{
    /// <summary>The request's Authorization header.</summary>
    public string? Authorization { get; init; }
}

/// <summary>
/// A Kestrel API server for EndpointSlices and Services in namespace <c>default</c> that answers correctly (lists with
/// resourceVersion, watches from a resourceVersion with history, 410 below the compacted version) until the test sets
/// <see cref="Fault"/>, which may answer any request as a broken or hostile server would. Each request is recorded with
/// the time of the test's <see cref="FakeTimeProvider"/>, so request rates are measured on the clock the client waits on.
/// </summary>
public sealed class FaultyApiServer : IAsyncDisposable
{
    /// <summary>The password in the kubeconfig's server URL and the token of its user: no message may contain them.</summary>
    public const string Password = "pa55-Secret-9", Token = "t0ken-Secret-7";

    private readonly Lock _gate = new();
    private readonly WebApplication _app;
    private readonly List<ApiHit> _hits = [];
    private readonly List<DateTimeOffset> _handshakes = [];
    private readonly Dictionary<string, Stored> _slices = new(StringComparer.Ordinal);
    private readonly Dictionary<string, Stored> _services = new(StringComparer.Ordinal);
    private readonly List<(long Version, string Resource, Stored Object, string Type)> _history = [];
    private readonly List<(string Resource, Func<Stored, bool> Matches, Channel<string> Lines)> _watches = [];
    // Counts EndWatches calls: a watch whose request was checked against the fault before the last one is ended at once.
    private int _watchEpoch;
    private long _version = 100;
    private long _compactedBelow;

    private sealed record Stored(string Name, string Service, string Json);

    private FaultyApiServer(WebApplication app, FakeTimeProvider time)
    {
        _app = app;
        Time = time;
    }

    /// <summary>The clock requests are recorded on (and the client under test waits on).</summary>
    public FakeTimeProvider Time { get; }

    public Uri Uri { get; private set; } = null!;

    /// <summary>Answers a request instead of the correct server when it returns true.</summary>
    public Func<ApiHit, HttpContext, Task<bool>>? Fault { get; set; }

    public IReadOnlyList<ApiHit> Hits
    {
        get
        {
            lock (_gate)
            {
                return [.. _hits];
            }
        }
    }

    /// <summary>TLS handshakes begun at or after <paramref name="since"/> (a refused certificate never gets to a request).</summary>
    public int Handshakes(DateTimeOffset since)
    {
        lock (_gate)
        {
            return _handshakes.Count(t => t >= since);
        }
    }

    /// <summary>Requests for <paramref name="resource"/> (<c>endpointslices</c> or <c>services</c>) at or after <paramref name="since"/>.</summary>
    public int Count(string resource, DateTimeOffset since, bool? watch = null) =>
        Hits.Count(h => h.Resource == resource && h.At >= since && (watch is null || h.Watch == watch));

    /// <summary>
    /// The certificate (with the intermediates it sends) of an HTTPS server; each request gets a new connection
    /// (<c>Connection: close</c>), so a certificate set here is what the next request meets.
    /// </summary>
    public SslStreamCertificateContext? Tls { get; set; }

    /// <summary>Starts the server: HTTPS with <paramref name="tls"/> (HTTP/1.1 only), else plain HTTP.</summary>
    public static async Task<FaultyApiServer> StartAsync(SslStreamCertificateContext? tls = null)
    {
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        FaultyApiServer? created = null;
        builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Loopback, 0, listen =>
        {
            if (tls is not null)
            {
                listen.Protocols = HttpProtocols.Http1;
                listen.UseHttps(new TlsHandshakeCallbackOptions
                {
                    OnConnection = _ =>
                    {
                        lock (created!._gate)
                        {
                            created._handshakes.Add(created.Time.GetUtcNow());
                        }
                        return ValueTask.FromResult(new SslServerAuthenticationOptions
                        {
                            ServerCertificateContext = created!.Tls,
                            ApplicationProtocols = [SslApplicationProtocol.Http11],
                        });
                    },
                });
            }
        }));
        WebApplication app = builder.Build();
        FaultyApiServer server = created = new FaultyApiServer(app, new FakeTimeProvider(new DateTimeOffset(2026, 12, 6, 12, 0, 0, TimeSpan.Zero))) { Tls = tls };
        app.Run(server.HandleAsync);
        await app.StartAsync();
        string address = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        server.Uri = new Uri(address.Replace("[::]", "127.0.0.1", StringComparison.Ordinal));
        return server;
    }

    /// <summary>A kubeconfig for this server whose URL carries <see cref="Password"/> and whose user has <see cref="Token"/>.</summary>
    public string WriteKubeconfig(string directory, string? cluster = null)
    {
        string path = Path.Combine(directory, "kubeconfig");
        File.WriteAllText(path, $"""
            apiVersion: v1
            kind: Config
            current-context: faulty
            clusters:
            - name: faulty
              cluster:
                server: {Uri.Scheme}://admin:{Password}@{Uri.Authority}
                {string.Join("\n    ", (cluster ?? "").Split('\n'))}
            users:
            - name: faulty
              user:
                token: {Token}
            contexts:
            - name: faulty
              context:
                cluster: faulty
                user: faulty
                namespace: default
            """);
        return path;
    }

    // ---- The truth ----

    public long Version
    {
        get
        {
            lock (_gate)
            {
                return _version;
            }
        }
    }

    /// <summary>Creates or replaces Service <paramref name="name"/> (port 80 named http to 8080).</summary>
    public void SetService(string name)
    {
        lock (_gate)
        {
            long rv = ++_version;
            string json = $$$"""{"metadata":{"name":"{{{name}}}","namespace":"default","resourceVersion":"{{{rv}}}"},"spec":{"type":"ClusterIP","clusterIP":"10.96.0.10","ports":[{"name":"http","port":80,"targetPort":8080,"protocol":"TCP"}]}}""";
            PutLocked("services", _services, new Stored(name, name, json), rv);
        }
    }

    /// <summary>Creates or replaces slice <paramref name="slice"/> of <paramref name="service"/> with these ready endpoints on port 8080.</summary>
    public void SetSlice(string slice, string service, params string[] addresses)
    {
        lock (_gate)
        {
            long rv = ++_version;
            string endpoints = string.Join(",", addresses.Select(a => $$$"""{"addresses":["{{{a}}}"],"conditions":{"ready":true,"serving":true,"terminating":false}}"""));
            string json = $$$"""{"metadata":{"name":"{{{slice}}}","namespace":"default","resourceVersion":"{{{rv}}}","labels":{"kubernetes.io/service-name":"{{{service}}}"}},"addressType":"IPv4","endpoints":[{{{endpoints}}}],"ports":[{"name":"http","port":8080,"protocol":"TCP"}]}""";
            PutLocked("endpointslices", _slices, new Stored(slice, service, json), rv);
        }
    }

    /// <summary>Stores a slice given as raw JSON (a hostile object); <c>{rv}</c> in it becomes its resourceVersion.</summary>
    public long SetRawSlice(string slice, string service, string json)
    {
        lock (_gate)
        {
            long rv = ++_version;
            PutLocked("endpointslices", _slices, new Stored(slice, service, json.Replace("{rv}", rv.ToString(CultureInfo.InvariantCulture), StringComparison.Ordinal)), rv);
            return rv;
        }
    }

    /// <summary>Forgets history up to now: watches from any version given out so far get 410 Gone; lists give a newer one.</summary>
    public void Compact()
    {
        lock (_gate)
        {
            _compactedBelow = ++_version;
        }
    }

    /// <summary>Ends every open watch cleanly.</summary>
    public void EndWatches()
    {
        lock (_gate)
        {
            // A watch request already past the fault check but not yet registered ends too (see WatchAsync).
            _watchEpoch++;
            foreach ((string Resource, Func<Stored, bool> Matches, Channel<string> Lines) watch in _watches)
            {
                watch.Lines.Writer.TryComplete();
            }
            _watches.Clear();
        }
    }

    /// <summary>Sends a raw line to every open watch of <paramref name="resource"/>.</summary>
    public void Send(string resource, string line)
    {
        lock (_gate)
        {
            foreach ((string Resource, Func<Stored, bool> Matches, Channel<string> Lines) watch in _watches.Where(w => w.Resource == resource))
            {
                watch.Lines.Writer.TryWrite(line);
            }
        }
    }

    public int OpenWatches(string resource)
    {
        lock (_gate)
        {
            return _watches.Count(w => w.Resource == resource);
        }
    }

    private void PutLocked(string resource, Dictionary<string, Stored> store, Stored item, long rv)
    {
        string type = store.ContainsKey(item.Name) ? "MODIFIED" : "ADDED";
        store[item.Name] = item;
        _history.Add((rv, resource, item, type));
        string line = Event(type, item.Json);
        foreach ((string Resource, Func<Stored, bool> Matches, Channel<string> Lines) watch in _watches.Where(w => w.Resource == resource && w.Matches(item)))
        {
            watch.Lines.Writer.TryWrite(line);
        }
    }

    public static string Event(string type, string json) => $$"""{"type":"{{type}}","object":{{json}}}""";

    public static string Status(int code, string reason, string message) =>
        $$"""{"kind":"Status","apiVersion":"v1","status":"Failure","message":"{{message}}","reason":"{{reason}}","code":{{code}}}""";

    // ---- HTTP ----

    private async Task HandleAsync(HttpContext ctx)
    {
        string path = ctx.Request.Path.Value ?? "";
        string resource = path.EndsWith("/endpointslices", StringComparison.Ordinal) ? "endpointslices" : path.EndsWith("/services", StringComparison.Ordinal) ? "services" : "";
        IQueryCollection query = ctx.Request.Query;
        if (Tls is not null)
        {
            ctx.Response.Headers.Connection = "close";
        }
        var hit = new ApiHit(resource, query["watch"] == "1", query["resourceVersion"].FirstOrDefault(), query["continue"].FirstOrDefault(), Time.GetUtcNow())
        {
            Authorization = ctx.Request.Headers.Authorization.FirstOrDefault(),
        };
        lock (_gate)
        {
            _hits.Add(hit);
        }
        if (resource.Length == 0)
        {
            ctx.Response.StatusCode = 404;
            return;
        }
        int epoch;
        lock (_gate)
        {
            epoch = _watchEpoch;
        }
        if (Fault is { } fault && await fault(hit, ctx))
        {
            return;
        }
        Func<Stored, bool> matches = Matcher(resource, query["labelSelector"].FirstOrDefault(), query["fieldSelector"].FirstOrDefault());
        if (hit.Watch)
        {
            await WatchAsync(ctx, resource, hit.ResourceVersion, matches, epoch);
        }
        else
        {
            await ListAsync(ctx, resource, matches);
        }
    }

    private static Func<Stored, bool> Matcher(string resource, string? labelSelector, string? fieldSelector)
    {
        if (resource == "services")
        {
            string? name = fieldSelector?.StartsWith("metadata.name=", StringComparison.Ordinal) == true ? fieldSelector["metadata.name=".Length..] : null;
            return s => name is null || s.Name == name;
        }
        string? service = labelSelector?.Contains('=') == true ? labelSelector[(labelSelector.IndexOf('=') + 1)..] : null;
        return s => service is null || s.Service == service;
    }

    private async Task ListAsync(HttpContext ctx, string resource, Func<Stored, bool> matches)
    {
        string body;
        lock (_gate)
        {
            Dictionary<string, Stored> store = resource == "services" ? _services : _slices;
            body = $$"""{"kind":"List","apiVersion":"v1","metadata":{"resourceVersion":"{{_version}}"},"items":[{{string.Join(",", store.Values.Where(matches).Select(s => s.Json))}}]}""";
        }
        ctx.Response.ContentType = "application/json";
        await ctx.Response.WriteAsync(body);
    }

    private async Task WatchAsync(HttpContext ctx, string resource, string? from, Func<Stored, bool> matches, int epoch)
    {
        ctx.Response.ContentType = "application/json";
        var lines = Channel.CreateUnbounded<string>();
        long since = long.TryParse(from, CultureInfo.InvariantCulture, out long v) ? v : 0;
        lock (_gate)
        {
            if (since < _compactedBelow)
            {
                lines.Writer.TryWrite(Event("ERROR", Status(410, "Expired", $"too old resource version: {since} ({_compactedBelow})")));
                lines.Writer.TryComplete();
            }
            else if (epoch != _watchEpoch)
            {
                // Ended by EndWatches while its request was under way: like the open ones, it ends without an event.
                lines.Writer.TryComplete();
            }
            else
            {
                foreach ((long Version, string Resource, Stored Object, string Type) change in _history.Where(h => h.Resource == resource && h.Version > since && matches(h.Object)))
                {
                    lines.Writer.TryWrite(Event(change.Type, change.Object.Json));
                }
                _watches.Add((resource, matches, lines));
            }
        }
        try
        {
            await ctx.Response.StartAsync(ctx.RequestAborted);
            await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
            await foreach (string line in lines.Reader.ReadAllAsync(ctx.RequestAborted))
            {
                await ctx.Response.WriteAsync(line + "\n", ctx.RequestAborted);
                await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
            }
        }
        catch (OperationCanceledException)
        {
        }
        finally
        {
            lock (_gate)
            {
                _watches.RemoveAll(w => w.Lines == lines);
            }
        }
    }

    /// <summary>Writes a status answer (optionally with Retry-After seconds).</summary>
    public static Task AnswerAsync(HttpContext ctx, int code, string reason, string message, string? retryAfter = null)
    {
        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = "application/json";
        if (retryAfter is not null)
        {
            ctx.Response.Headers.RetryAfter = retryAfter;
        }
        return ctx.Response.WriteAsync(Status(code, reason, message));
    }

    /// <summary>Starts a watch response and writes <paramref name="lines"/>, each followed by a newline unless <paramref name="lastUnterminated"/>.</summary>
    public static async Task StreamAsync(HttpContext ctx, IEnumerable<string> lines, bool lastUnterminated = false)
    {
        ctx.Response.ContentType = "application/json";
        await ctx.Response.StartAsync();
        var text = new StringBuilder();
        string[] all = [.. lines];
        for (int i = 0; i < all.Length; i++)
        {
            text.Append(all[i]);
            if (i < all.Length - 1 || !lastUnterminated)
            {
                text.Append('\n');
            }
        }
        await ctx.Response.WriteAsync(text.ToString());
    }

    public async ValueTask DisposeAsync()
    {
        EndWatches();
        await _app.StopAsync();
        await _app.DisposeAsync();
    }
}
