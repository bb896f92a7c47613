using System.Globalization;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Api;

/// <summary>A list response as one object (the JSON path streams instead), for encoding as a protobuf {Kind}List.</summary>
internal static class ProtobufLists
{
    public static JsonObject Build(ResourceType t, ListResult result, bool partialMetadata)
    {
        var metadata = new JsonObject { ["resourceVersion"] = result.ResourceVersion.ToString(CultureInfo.InvariantCulture) };
        if (result.Continue is not null)
        {
            metadata["continue"] = result.Continue;
        }

        if (result.RemainingItemCount is not null)
        {
            metadata["remainingItemCount"] = result.RemainingItemCount.Value;
        }

        return new JsonObject
        {
            ["kind"] = partialMetadata ? "PartialObjectMetadataList" : t.ListKind,
            ["apiVersion"] = partialMetadata ? "meta.k8s.io/v1" : t.ApiVersion,
            ["metadata"] = metadata,
            ["items"] = Json.Array(result.Items.Select(o => (JsonNode)(partialMetadata ? TableConverter.PartialMetadata(o) : o.ToMutable()))),
        };
    }
}
