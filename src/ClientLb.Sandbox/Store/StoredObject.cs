using System.Text.Json;
using System.Text.Json.Nodes;

namespace ClientLb.Sandbox.Store;

/// <summary>
/// One committed object version. Immutable: readers on any thread use <see cref="Root"/> or
/// <see cref="Utf8"/>; writers parse a fresh <see cref="JsonObject"/> with <see cref="ToMutable"/>.
/// </summary>
internal sealed class StoredObject
{
    private StoredObject(ResourceType type, byte[] utf8)
    {
        Type = type;
        Utf8 = utf8;
        Root = JsonDocument.Parse(utf8).RootElement;
        Namespace = Root.Str("metadata", "namespace") ?? "";
        Name = Root.Str("metadata", "name") ?? "";
        Uid = Root.Str("metadata", "uid") ?? "";
        ResourceVersion = long.TryParse(Root.Str("metadata", "resourceVersion"), out long rv) ? rv : 0;
        Labels = Root.Map("metadata", "labels");
    }

    public ResourceType Type { get; }
    public byte[] Utf8 { get; }
    public JsonElement Root { get; }
    public string Namespace { get; }
    public string Name { get; }
    public string Uid { get; }
    public long ResourceVersion { get; }
    public IReadOnlyDictionary<string, string> Labels { get; }
    public string Key => Namespace + "/" + Name;
    public bool IsDeleting => Root.Get("metadata", "deletionTimestamp") is { ValueKind: JsonValueKind.String };

    public JsonObject ToMutable() => JsonNode.Parse(Utf8)!.AsObject();

    public static StoredObject From(ResourceType type, JsonObject obj) =>
        new(type, Json.ToUtf8(obj));
}
