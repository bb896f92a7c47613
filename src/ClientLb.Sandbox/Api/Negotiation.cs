using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Api;

/// <summary>The response shapes the sandbox can produce for a GET/list/watch.</summary>
internal enum ResponseShape { Object, Table, PartialObjectMetadata }

/// <summary>Picks the first media type in Accept that the sandbox serves (JSON only; no protobuf, no YAML).</summary>
internal static class Negotiation
{
    public static ResponseShape Choose(string? accept)
    {
        if (string.IsNullOrWhiteSpace(accept)) return ResponseShape.Object;
        foreach (var candidate in accept.Split(','))
        {
            var parts = candidate.Split(';').Select(p => p.Trim()).ToArray();
            var media = parts[0].ToLowerInvariant();
            if (media is not ("application/json" or "application/*" or "*/*" or "application/json-seq")) continue;
            var p = parts.Skip(1).Select(x => x.Split('=', 2)).Where(x => x.Length == 2).ToDictionary(x => x[0].Trim(), x => x[1].Trim());
            if (!p.TryGetValue("as", out var @as)) return ResponseShape.Object;
            var g = p.GetValueOrDefault("g");
            var v = p.GetValueOrDefault("v");
            if (g != "meta.k8s.io" || v is not ("v1" or "v1beta1")) continue;
            if (@as == "Table") return ResponseShape.Table;
            if (@as is "PartialObjectMetadata" or "PartialObjectMetadataList") return ResponseShape.PartialObjectMetadata;
        }
        throw new ApiException(406, "NotAcceptable", $"only the following media types are accepted: application/json, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io (got \"{accept}\")");
    }
}
