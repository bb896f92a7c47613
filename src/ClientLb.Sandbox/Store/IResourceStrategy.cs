using System.Text.Json.Nodes;

namespace ClientLb.Sandbox.Store;

/// <summary>Which part of an object an update may change, mirroring the main resource and its status subresource.</summary>
internal enum UpdateMode
{
    /// <summary>PUT/PATCH on the resource: status changes are ignored for resources with a status subresource.</summary>
    Main,
    /// <summary>PUT/PATCH on /status: only status changes are kept.</summary>
    Status,
    /// <summary>Controllers inside the sandbox: everything is kept.</summary>
    Internal,
}

/// <summary>Per-resource defaulting, validation, allocation and deletion behaviour (the API server's "strategy").</summary>
internal interface IResourceStrategy
{
    /// <summary>Defaults, validates (throwing 422) and then allocates (cluster IPs) for a new object.</summary>
    void PrepareForCreate(JsonObject obj, ObjectStore store);

    /// <summary>Defaults and validates an update, including immutable fields.</summary>
    void PrepareForUpdate(JsonObject obj, StoredObject old, UpdateMode mode, ObjectStore store);

    /// <summary>
    /// Starts a graceful deletion by marking <paramref name="obj"/> (deletionTimestamp etc.); returns false when the
    /// object should instead be removed at once.
    /// </summary>
    bool BeginGracefulDelete(JsonObject obj, StoredObject current, long? gracePeriodSeconds, DateTimeOffset now);

    /// <summary>Releases what the object held (cluster IPs) once it is gone.</summary>
    void OnRemoved(StoredObject obj);
}

/// <summary>Defaults for resources without special rules.</summary>
internal class DefaultStrategy : IResourceStrategy
{
    public virtual void PrepareForCreate(JsonObject obj, ObjectStore store) { }
    public virtual void PrepareForUpdate(JsonObject obj, StoredObject old, UpdateMode mode, ObjectStore store) { }
    public virtual bool BeginGracefulDelete(JsonObject obj, StoredObject current, long? gracePeriodSeconds, DateTimeOffset now) => false;
    public virtual void OnRemoved(StoredObject obj) { }

    protected static void ThrowIfAny(ResourceType t, JsonObject obj, List<StatusCause> causes)
    {
        if (causes.Count > 0)
        {
            throw ApiException.Invalid(t, obj.Str("metadata", "name") ?? "", causes);
        }
    }

    protected static StatusCause Required(string field) => new("FieldValueRequired", field, "Required value");

    protected static StatusCause InvalidValue(string field, object? value, string why) =>
        new("FieldValueInvalid", field, $"Invalid value: {Quote(value)}: {why}");

    protected static StatusCause Unsupported(string field, object? value, params string[] supported) =>
        new("FieldValueNotSupported", field, $"Unsupported value: {Quote(value)}: supported values: {string.Join(", ", supported.Select(s => $"\"{s}\""))}");

    protected static StatusCause Immutable(string field, object? value) =>
        new("FieldValueInvalid", field, $"Invalid value: {Quote(value)}: field is immutable");

    private static string Quote(object? v) => v switch
    {
        null => "null",
        string s => $"\"{s}\"",
        JsonValue jv when jv.TryGetValue<string>(out string? s) => $"\"{s}\"", // ToJsonString needs reflection for a string value here
        JsonNode n => Raw(n),
        _ => v.ToString() ?? "",
    };

    private static string Raw(JsonNode node)
    {
        using var buffer = new MemoryStream();
        using (var writer = new System.Text.Json.Utf8JsonWriter(buffer))
        {
            node.WriteTo(writer);
        }

        return System.Text.Encoding.UTF8.GetString(buffer.ToArray());
    }
}
