using System.Text.Json.Nodes;
using System.Text.RegularExpressions;
using ClientLb.Sandbox.Security;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Admission;

/// <summary>ConfigMaps and Secrets: keys, values, the 1 MiB limit and <c>immutable</c>, as the API server validates them.</summary>
internal abstract partial class DataStrategy(ResourceType type) : DefaultStrategy
{
    private const int MaxBytes = 1024 * 1024;
    [GeneratedRegex("^[-._a-zA-Z0-9]+$")] private static partial Regex ConfigKeyRx();

    protected ResourceType Type => type;

    public override void PrepareForCreate(JsonObject obj, ObjectStore store) => ThrowIfAny(type, obj, Validate(obj, null));

    public override void PrepareForUpdate(JsonObject obj, StoredObject old, UpdateMode mode, ObjectStore store)
    {
        List<StatusCause> causes = Validate(obj, old);
        JsonObject oldObj = old.ToMutable();
        if (oldObj["immutable"] is JsonValue iv && iv.TryGetValue<bool>(out bool wasImmutable) && wasImmutable)
        {
            if (!Json.DeepEquals(obj["data"], oldObj["data"]) || !Json.DeepEquals(obj["binaryData"], oldObj["binaryData"]))
            {
                causes.Add(new("FieldValueForbidden", "data", "Forbidden: field is immutable when `immutable` is set"));
            }

            if (obj["immutable"] is not JsonValue nv || !nv.TryGetValue<bool>(out bool stillImmutable) || !stillImmutable)
            {
                causes.Add(new("FieldValueForbidden", "immutable", "Forbidden: field is immutable when `immutable` is set"));
            }
        }
        ThrowIfAny(type, obj, causes);
    }

    protected virtual List<StatusCause> Validate(JsonObject obj, StoredObject? old)
    {
        var causes = new List<StatusCause>();
        var keys = new HashSet<string>(StringComparer.Ordinal);
        long total = 0L;
        foreach (string? field in new[] { "data", "binaryData" })
        {
            if (obj[field] is null)
            {
                continue;
            }

            if (obj[field] is not JsonObject map) { causes.Add(InvalidValue(field, obj[field], "must be a map of string keys to string values")); continue; }
            foreach ((string? k, JsonNode? v) in map)
            {
                if (k.Length > 253 || !ConfigKeyRx().IsMatch(k))
                {
                    causes.Add(InvalidValue($"{field}[{k}]", k, "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')"));
                }
                else if (!keys.Add(k))
                {
                    causes.Add(InvalidValue($"{field}[{k}]", k, "duplicate of key present in data"));
                }

                if (v is not JsonValue sv || !sv.TryGetValue<string>(out string? text)) { causes.Add(InvalidValue($"{field}[{k}]", v, "must be a string")); continue; }
                if (IsBase64(field) && !TryBase64(text, out byte[]? decoded))
                {
                    causes.Add(InvalidValue($"{field}[{k}]", "<value omitted>", "illegal base64 data"));
                }
                else
                {
                    total += IsBase64(field) ? TryLength(text) : System.Text.Encoding.UTF8.GetByteCount(text);
                }
            }
        }
        if (total > MaxBytes)
        {
            causes.Add(new("FieldValueTooLong", "data", $"Too long: must have at most {MaxBytes} bytes"));
        }

        if (obj["immutable"] is not null and not JsonValue)
        {
            causes.Add(InvalidValue("immutable", obj["immutable"], "must be a boolean"));
        }

        return causes;
    }

    /// <summary>Whether values of this map are base64 (Secret data, binaryData).</summary>
    protected abstract bool IsBase64(string field);

    private static bool TryBase64(string text, out byte[] bytes)
    {
        bytes = [];
        try { bytes = Convert.FromBase64String(text); return true; }
        catch (FormatException) { return false; }
    }

    private static long TryLength(string text) => TryBase64(text, out byte[]? b) ? b.Length : 0;
}

internal sealed class ConfigMapStrategy() : DataStrategy(ResourceTypes.ConfigMaps)
{
    protected override bool IsBase64(string field) => field == "binaryData";
}

/// <summary>
/// Secrets: <c>stringData</c> folded into <c>data</c>, <c>type</c> defaulted to Opaque and immutable, and service-account
/// token secrets (<c>kubernetes.io/service-account-token</c>, as the legacy token controller fills them) given a token.
/// </summary>
internal sealed class SecretStrategy(ServiceAccountTokens tokens) : DataStrategy(ResourceTypes.Secrets)
{
    public const string TokenType = "kubernetes.io/service-account-token";
    public const string ServiceAccountNameAnnotation = "kubernetes.io/service-account.name";

    protected override bool IsBase64(string field) => true;

    public override void PrepareForCreate(JsonObject obj, ObjectStore store)
    {
        Fold(obj);
        base.PrepareForCreate(obj, store);
        if (obj.Str("type") == TokenType)
        {
            IssueToken(obj, store);
        }
    }

    public override void PrepareForUpdate(JsonObject obj, StoredObject old, UpdateMode mode, ObjectStore store)
    {
        Fold(obj);
        if (obj.Str("type") != old.Root.Str("type"))
        {
            ThrowIfAny(Type, obj, [Immutable("type", obj.Str("type"))]);
        }

        base.PrepareForUpdate(obj, old, mode, store);
        if (obj.Str("type") == TokenType && obj.Node("data", "token") is null)
        {
            IssueToken(obj, store);
        }
    }

    public override void OnRemoved(StoredObject obj)
    {
        if (obj.Root.Str("type") == TokenType && obj.Root.Str("data", "token") is { } token)
        {
            tokens.Revoke(System.Text.Encoding.UTF8.GetString(Convert.FromBase64String(token)));
        }
    }

    private static void Fold(JsonObject obj)
    {
        obj["type"] ??= "Opaque";
        if (obj["stringData"] is JsonObject stringData)
        {
            JsonObject data = obj["data"] as JsonObject ?? new JsonObject();
            foreach ((string? k, JsonNode? v) in stringData)
            {
                data[k] = v is JsonValue sv && sv.TryGetValue<string>(out string? text) ? Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(text)) : v?.DeepClone();
            }

            obj["data"] = data;
        }
        obj.Remove("stringData");
    }

    private void IssueToken(JsonObject obj, ObjectStore store)
    {
        string ns = obj.Str("metadata", "namespace") ?? "default";
        string? sa = obj.Str("metadata", "annotations", ServiceAccountNameAnnotation);
        if (string.IsNullOrEmpty(sa))
        {
            ThrowIfAny(Type, obj, [Required($"metadata.annotations[{ServiceAccountNameAnnotation}]")]);
        }

        StoredObject account = store.Get(ResourceTypes.ServiceAccounts, ns, sa!)
            ?? throw ApiException.Invalid(Type, obj.Str("metadata", "name") ?? "", [new("FieldValueNotFound", $"metadata.annotations[{ServiceAccountNameAnnotation}]", $"Not found: serviceaccount \"{sa}\" does not exist in namespace \"{ns}\"")]);
        obj.Metadata().Obj("annotations")["kubernetes.io/service-account.uid"] = account.Uid;
        JsonObject data = obj["data"] as JsonObject ?? new JsonObject();
        data["token"] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(tokens.Issue(ns, sa!, account.Uid)));
        data["namespace"] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(ns));
        if (tokens.CaPem is { } ca)
        {
            data["ca.crt"] = Convert.ToBase64String(System.Text.Encoding.UTF8.GetBytes(ca));
        }

        obj["data"] = data;
    }
}
