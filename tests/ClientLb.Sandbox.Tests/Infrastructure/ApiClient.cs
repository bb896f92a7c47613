using System.Net;
using System.Net.Http.Headers;
using System.Text;
using System.Text.Json.Nodes;

namespace ClientLb.Sandbox.Tests.Infrastructure;

/// <summary>Thin HTTP helpers over a sandbox cluster's API server.</summary>
public sealed class ApiClient(HttpClient http) : IDisposable
{
    public HttpClient Http => http;

    public async Task<(HttpStatusCode Code, JsonObject Body)> SendAsync(HttpMethod method, string path, JsonNode? body = null, string contentType = "application/json", string? accept = null)
    {
        using var req = new HttpRequestMessage(method, path);
        if (body is not null)
        {
            req.Content = new StringContent(body.ToJsonString(), Encoding.UTF8, MediaTypeHeaderValue.Parse(contentType));
        }

        if (accept is not null)
        {
            req.Headers.TryAddWithoutValidation("Accept", accept);
        }

        using HttpResponseMessage resp = await http.SendAsync(req);
        string text = await resp.Content.ReadAsStringAsync();
        JsonObject json = text.Length == 0 ? new JsonObject() : JsonNode.Parse(text) as JsonObject ?? new JsonObject { ["raw"] = text };
        return (resp.StatusCode, json);
    }

    public Task<(HttpStatusCode Code, JsonObject Body)> GetAsync(string path, string? accept = null) => SendAsync(HttpMethod.Get, path, accept: accept);
    public Task<(HttpStatusCode Code, JsonObject Body)> PostAsync(string path, JsonNode body) => SendAsync(HttpMethod.Post, path, body);
    public Task<(HttpStatusCode Code, JsonObject Body)> PutAsync(string path, JsonNode body) => SendAsync(HttpMethod.Put, path, body);
    public Task<(HttpStatusCode Code, JsonObject Body)> PatchAsync(string path, JsonNode body, string contentType = "application/merge-patch+json") => SendAsync(HttpMethod.Patch, path, body, contentType);
    public Task<(HttpStatusCode Code, JsonObject Body)> DeleteAsync(string path) => SendAsync(HttpMethod.Delete, path);

    /// <summary>Opens a watch and yields its events (one JSON object per line) until the stream ends.</summary>
    public async Task<WatchStream> WatchAsync(string pathAndQuery, CancellationToken ct)
    {
        var req = new HttpRequestMessage(HttpMethod.Get, pathAndQuery);
        HttpResponseMessage resp = await http.SendAsync(req, HttpCompletionOption.ResponseHeadersRead, ct);
        resp.EnsureSuccessStatusCode();
        return new WatchStream(resp, await resp.Content.ReadAsStreamAsync(ct), ct);
    }

    public void Dispose() => http.Dispose();

    public static JsonObject Service(string name, int port = 80, JsonObject? selector = null, string? clusterIP = null, JsonObject? labels = null)
    {
        var spec = new JsonObject { ["ports"] = new JsonArray(new JsonObject { ["port"] = port }) };
        if (selector is not null)
        {
            spec["selector"] = selector;
        }

        if (clusterIP is not null)
        {
            spec["clusterIP"] = clusterIP;
        }

        var meta = new JsonObject { ["name"] = name };
        if (labels is not null)
        {
            meta["labels"] = labels;
        }

        return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Service", ["metadata"] = meta, ["spec"] = spec };
    }
}

public sealed class WatchStream(HttpResponseMessage response, Stream stream, CancellationToken ct) : IAsyncDisposable
{
    private readonly StreamReader _reader = new(stream);

    /// <summary>The next event, or null when the server ended the stream.</summary>
    public async Task<JsonObject?> NextAsync()
    {
        string? line = await _reader.ReadLineAsync(ct);
        return line is null ? null : JsonNode.Parse(line)!.AsObject();
    }

    /// <summary>The next event that is not a BOOKMARK.</summary>
    public async Task<JsonObject?> NextChangeAsync()
    {
        while (true)
        {
            JsonObject? e = await NextAsync();
            if (e is null || e["type"]!.GetValue<string>() != "BOOKMARK")
            {
                return e;
            }
        }
    }

    public ValueTask DisposeAsync()
    {
        _reader.Dispose();
        response.Dispose();
        return ValueTask.CompletedTask;
    }
}
