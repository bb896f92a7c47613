using ClientLb.Sandbox.Store;
using Microsoft.AspNetCore.Http;

namespace ClientLb.Sandbox.Api;

/// <summary>The response shapes the sandbox can produce for a GET/list/watch.</summary>
internal enum ResponseShape { Object, Table, PartialObjectMetadata }

/// <summary>
/// Picks the first media type in Accept that the sandbox serves: JSON, or protobuf (application/vnd.kubernetes.protobuf;
/// Table has no protobuf encoding upstream, so a protobuf Table is passed over for the next candidate). No YAML.
/// </summary>
internal static class Negotiation
{
    public static ResponseShape Choose(string? accept) => Negotiate(accept).Shape;

    /// <summary>The shape and whether it is sent as protobuf; <c>JsonAlso</c> tells whether JSON is acceptable as well.</summary>
    public static (ResponseShape Shape, bool Protobuf, bool JsonAlso) Negotiate(string? accept)
    {
        if (string.IsNullOrWhiteSpace(accept))
        {
            return (ResponseShape.Object, false, true);
        }

        (ResponseShape Shape, bool Protobuf)? chosen = null;
        bool jsonAlso = false;
        foreach (string candidate in accept.Split(','))
        {
            string[] parts = candidate.Split(';').Select(p => p.Trim()).ToArray();
            string media = parts[0].ToLowerInvariant();
            bool protobuf = media == Protobuf.KubeProtobuf.MediaType;
            if (!protobuf && media is not ("application/json" or "application/*" or "*/*" or "application/json-seq"))
            {
                continue;
            }

            ResponseShape? shape = ShapeOf(parts);
            if (shape is null || (protobuf && shape == ResponseShape.Table))
            {
                continue;
            }

            jsonAlso |= !protobuf;
            chosen ??= (shape.Value, protobuf);
        }
        if (chosen is { } c)
        {
            return (c.Shape, c.Protobuf, jsonAlso);
        }

        throw new ApiException(406, "NotAcceptable", $"only the following media types are accepted: application/json, application/vnd.kubernetes.protobuf, application/json;as=Table;v=v1;g=meta.k8s.io, application/json;as=PartialObjectMetadata;v=v1;g=meta.k8s.io (and its protobuf form) (got \"{accept}\")");
    }

    private static ResponseShape? ShapeOf(string[] parts)
    {
        var p = parts.Skip(1).Select(x => x.Split('=', 2)).Where(x => x.Length == 2).ToDictionary(x => x[0].Trim(), x => x[1].Trim());
        if (!p.TryGetValue("as", out string? @as))
        {
            return ResponseShape.Object;
        }

        string? g = p.GetValueOrDefault("g");
        string? v = p.GetValueOrDefault("v");
        if (g != "meta.k8s.io" || v is not ("v1" or "v1beta1"))
        {
            return null;
        }

        if (@as == "Table")
        {
            return ResponseShape.Table;
        }

        if (@as is "PartialObjectMetadata" or "PartialObjectMetadataList")
        {
            return ResponseShape.PartialObjectMetadata;
        }

        return null;
    }

    /// <summary>Marks a resource request whose Accept prefers protobuf, so <see cref="HttpIo"/> writes its answers (and errors) as protobuf.</summary>
    public static void SelectWireFormat(HttpContext ctx)
    {
        try
        {
            (ResponseShape _, bool protobuf, bool jsonAlso) = Negotiate(ctx.Request.Headers.Accept);
            if (protobuf)
            {
                HttpIo.UseProtobuf(ctx, jsonAlso);
            }
        }
        catch (ApiException)
        {
            // An unacceptable Accept is refused by the handlers that read it (GET, list, watch).
        }
    }
}
