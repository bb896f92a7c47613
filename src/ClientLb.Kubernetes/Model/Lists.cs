using System.Text.Json.Serialization;

namespace ClientLb.Kubernetes.Model;

/// <summary>A list of objects as the API returns it: items plus the collection's resourceVersion.</summary>
/// <typeparam name="T">The item type.</typeparam>
internal sealed class KubernetesList<T>
{
    /// <summary>The list metadata (resourceVersion, continue).</summary>
    public ListMeta Metadata { get; set; } = new();

    /// <summary>The items.</summary>
    public List<T> Items { get; set; } = [];

    /// <summary>Items of the wrong shape that were left out of <see cref="Items"/> when the list was read.</summary>
    [JsonIgnore]
    internal List<PoisonObject> Skipped { get; } = [];
}

/// <summary>A watch event: <c>ADDED</c>, <c>MODIFIED</c>, <c>DELETED</c>, <c>BOOKMARK</c> or <c>ERROR</c>.</summary>
/// <typeparam name="T">The watched type.</typeparam>
internal sealed class WatchEvent<T>
{
    /// <summary>The event type.</summary>
    public string Type { get; set; } = "";

    /// <summary>The object (a bookmark carries only its resourceVersion; an ERROR event is decoded into <see cref="Status"/>).</summary>
    public T? Object { get; set; }

    /// <summary>The Status of an ERROR event (decoded separately: its object is not a <typeparamref name="T"/>).</summary>
    [JsonIgnore]
    public Status? Status { get; set; }

    /// <summary>Set instead of <see cref="Object"/> when the event's object could not be decoded (wrong JSON types): what is known of it.</summary>
    [JsonIgnore]
    internal PoisonObject? Poison { get; set; }
}

/// <summary>An object the client could not use: its name and resourceVersion (when they could be read) and why.</summary>
internal sealed record PoisonObject(string Name, string? ResourceVersion, string Problem);

/// <summary>The well-known watch event types.</summary>
internal static class WatchEventTypes
{
    /// <summary>An object was created (or is part of the initial state).</summary>
    public const string Added = "ADDED";

    /// <summary>An object changed.</summary>
    public const string Modified = "MODIFIED";

    /// <summary>An object was deleted.</summary>
    public const string Deleted = "DELETED";

    /// <summary>Progress: only the resourceVersion is meaningful.</summary>
    public const string Bookmark = "BOOKMARK";

    /// <summary>The watch failed; the object is a Status (410 Expired: re-list).</summary>
    public const string Error = "ERROR";
}

/// <summary>A <c>meta/v1</c> Status: the body of API errors.</summary>
internal sealed class Status
{
    /// <summary><c>Success</c> or <c>Failure</c>.</summary>
    [JsonPropertyName("status")]
    public string? StatusValue { get; set; }

    /// <summary>A human-readable description.</summary>
    public string? Message { get; set; }

    /// <summary>A machine-readable reason such as <c>Expired</c>, <c>Forbidden</c>, <c>NotFound</c>.</summary>
    public string? Reason { get; set; }

    /// <summary>The HTTP status code.</summary>
    public int? Code { get; set; }
}
