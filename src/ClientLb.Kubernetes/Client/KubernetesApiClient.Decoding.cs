using System.Buffers;
using System.Runtime.CompilerServices;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization.Metadata;
using ClientLb.Kubernetes.Model;

namespace ClientLb.Kubernetes.Client;

// The decoding half of the client: watch events from their lines, list pages (item by item when one is poison).
public sealed partial class KubernetesApiClient
{
    private sealed class HttpWatchStream<T>(HttpResponseMessage response, Stream body, JsonTypeInfo<WatchEvent<T>> type, string path, int maxEventBytes) : IWatchStream<T>
    {
        public async IAsyncEnumerable<WatchEvent<T>> ReadAsync([EnumeratorCancellation] CancellationToken cancellationToken)
        {
            await foreach (WatchEvent<T> e in WatchLines.ReadAsync(body, path, line => ParseEvent(line, type, path), cancellationToken, maxEventBytes).ConfigureAwait(false))
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

    /// <summary>
    /// One watch event from its line of UTF-8 JSON; an ERROR event's object is decoded as a Status. Valid JSON with types
    /// the model cannot take gives an event marked <see cref="WatchEvent{T}.Poison"/> (with the object's name and
    /// resourceVersion), so the watch skips it rather than failing on it again and again; a line that is not JSON throws.
    /// </summary>
    internal static WatchEvent<T> ParseEvent<T>(ReadOnlySequence<byte> line, JsonTypeInfo<WatchEvent<T>> type, string path)
    {
        try
        {
            WatchEvent<T> e = Deserialize(line, type) ?? throw new JsonException("null event");
            if (e.Type == WatchEventTypes.Error)
            {
                e.Object = default;
                e.Status = Deserialize(line, KubernetesJsonContext.Default.WatchEventStatus)?.Object;
            }
            return e;
        }
        catch (JsonException ex)
        {
            ObjectNames.Identity identity;
            try
            {
                identity = ObjectNames.Read(line);
            }
            catch (JsonException)
            {
                throw new InvalidDataException($"watch {path}: the server sent an event that is not valid JSON: {ex.Message}", ex);
            }
            if (identity.Type == WatchEventTypes.Error)
            {
                return new WatchEvent<T> { Type = WatchEventTypes.Error }; // a Status of the wrong shape: an error all the same
            }
            string name = identity.Name is null ? "(unnamed)" : $"{identity.Namespace ?? "?"}/{identity.Name}";
            return new WatchEvent<T> { Type = identity.Type ?? "", Poison = new PoisonObject(name, identity.ResourceVersion, "cannot be decoded: " + ex.Message) };
        }
    }

    // From the span when the line is in one segment (the usual case): no scan of the value ahead of parsing it.
    private static TValue? Deserialize<TValue>(ReadOnlySequence<byte> line, JsonTypeInfo<TValue> type)
    {
        if (line.IsSingleSegment)
        {
            return JsonSerializer.Deserialize(line.FirstSpan, type);
        }
        var reader = new Utf8JsonReader(line);
        return JsonSerializer.Deserialize(ref reader, type);
    }

    /// <summary>
    /// One list page, buffered up to <see cref="MaxListPageBytes"/>. When the page does not decode, its items are decoded
    /// one by one and those of the wrong shape are set aside in <see cref="KubernetesList{T}.Skipped"/> (a poison object
    /// must not stop every list).
    /// </summary>
    private static async Task<KubernetesList<T>> ReadPageAsync<T>(HttpResponseMessage response, JsonTypeInfo<KubernetesList<T>> type, string path, CancellationToken cancellationToken)
    {
        string tooLarge = $"list {path}: a page is larger than {MaxListPageBytes / (1024 * 1024)} MB";
        if (response.Content.Headers.ContentLength > MaxListPageBytes)
        {
            throw new InvalidDataException(tooLarge);
        }
        try
        {
            await response.Content.LoadIntoBufferAsync(MaxListPageBytes, cancellationToken).ConfigureAwait(false);
        }
        catch (HttpRequestException ex) when (!cancellationToken.IsCancellationRequested)
        {
            throw new IOException($"{tooLarge}, or the connection broke while reading it: {ex.Message}", ex);
        }
        Stream body = await response.Content.ReadAsStreamAsync(cancellationToken).ConfigureAwait(false);
        await using (body.ConfigureAwait(false))
        {
            try
            {
                return await JsonSerializer.DeserializeAsync(body, type, cancellationToken).ConfigureAwait(false)
                    ?? throw new InvalidDataException($"list {path}: the server sent null");
            }
            catch (JsonException ex)
            {
                body.Position = 0;
                return ItemByItem(body, type, path, ex);
            }
        }
    }

    private static KubernetesList<T> ItemByItem<T>(Stream body, JsonTypeInfo<KubernetesList<T>> type, string path, JsonException error)
    {
        JsonTypeInfo<T> itemType = (JsonTypeInfo<T>)type.Options.GetTypeInfo(typeof(T));
        JsonDocument document;
        try
        {
            document = JsonDocument.Parse(body);
        }
        catch (JsonException)
        {
            throw new InvalidDataException($"list {path}: the server's answer is not valid JSON: {error.Message}", error);
        }
        using (document)
        {
            JsonElement root = document.RootElement;
            if (root.ValueKind != JsonValueKind.Object || !root.TryGetProperty("items", out JsonElement items) || items.ValueKind != JsonValueKind.Array
                || !root.TryGetProperty("metadata", out JsonElement metadata) || metadata.ValueKind != JsonValueKind.Object)
            {
                throw new InvalidDataException($"list {path}: the server's answer is not a list: {error.Message}", error);
            }
            var list = new KubernetesList<T>
            {
                Metadata = new ListMeta
                {
                    ResourceVersion = metadata.TryGetProperty("resourceVersion", out JsonElement rv) && rv.ValueKind == JsonValueKind.String ? rv.GetString() : null,
                    Continue = metadata.TryGetProperty("continue", out JsonElement next) && next.ValueKind == JsonValueKind.String ? next.GetString() : null,
                },
            };
            foreach (JsonElement item in items.EnumerateArray())
            {
                try
                {
                    list.Items.Add(item.Deserialize(itemType)!);
                }
                catch (JsonException ex)
                {
                    list.Skipped.Add(new PoisonObject(NameOf(item), null, "cannot be decoded: " + ex.Message));
                }
            }
            return list;
        }
    }

    private static string NameOf(JsonElement item)
    {
        static string? Text(JsonElement e, string key) => e.TryGetProperty(key, out JsonElement v) && v.ValueKind == JsonValueKind.String ? v.GetString() : null;
        return item.ValueKind == JsonValueKind.Object && item.TryGetProperty("metadata", out JsonElement meta) && meta.ValueKind == JsonValueKind.Object && Text(meta, "name") is string name
            ? $"{Text(meta, "namespace") ?? "?"}/{name}"
            : "(unnamed)";
    }
}
