using System.Text.Json;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;
using Microsoft.AspNetCore.Http;

namespace ClientLb.Sandbox.Api;

/// <summary>Reading request bodies (JSON or protobuf) and writing responses (JSON, or protobuf when negotiated).</summary>
internal static class HttpIo
{
    private const int MaxBodyBytes = 3 * 1024 * 1024; // the API server's request size limit
    private const string ProtobufKey = "ClientLb.Sandbox.Protobuf";

    public static async Task<byte[]> ReadBodyAsync(HttpContext ctx)
    {
        if (ctx.Request.ContentLength > MaxBodyBytes)
        {
            throw TooLarge();
        }

        using var ms = new MemoryStream();
        byte[] buffer = new byte[16 * 1024];
        int n;
        try
        {
            while ((n = await ctx.Request.Body.ReadAsync(buffer, ctx.RequestAborted)) > 0)
            {
                ms.Write(buffer, 0, n);
                if (ms.Length > MaxBodyBytes)
                {
                    throw TooLarge();
                }
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // Kestrel's own limit (MaxRequestBodySize) was hit first: still the client's too-large body, not a server error.
            throw TooLarge();
        }
        return ms.ToArray();
    }

    private static ApiException TooLarge() => new(413, "RequestEntityTooLarge", $"the request body is larger than {MaxBodyBytes} bytes");

    /// <summary>Reads an object body as JSON, or as protobuf (the k8s envelope) when the content type says so.</summary>
    public static async Task<JsonObject> ReadObjectAsync(HttpContext ctx, string what)
    {
        string ct = ctx.Request.ContentType ?? "application/json";
        string media = ct.Split(';')[0].Trim().ToLowerInvariant();
        if (media is not ("application/json" or "*/*" or Protobuf.KubeProtobuf.MediaType))
        {
            throw ApiException.UnsupportedMediaType(ct);
        }

        byte[] body = await ReadBodyAsync(ctx);
        if (body.Length == 0)
        {
            throw ApiException.BadRequest($"{what}: the request body is empty; expected a {(media == Protobuf.KubeProtobuf.MediaType ? "protobuf" : "JSON")} object");
        }

        return ParseObject(ctx, body, what);
    }

    /// <summary>A body already read, decoded by its content type (protobuf envelope or JSON).</summary>
    public static JsonObject ParseObject(HttpContext ctx, byte[] body, string what) =>
        IsProtobuf(ctx.Request.ContentType) ? Protobuf.KubeProtobuf.Decode(body, what) : Json.Parse(body, what);

    private static bool IsProtobuf(string? contentType) =>
        contentType is not null && contentType.Split(';')[0].Trim().Equals(Protobuf.KubeProtobuf.MediaType, StringComparison.OrdinalIgnoreCase);

    /// <summary>Answers of this request go out as protobuf (set by <see cref="Negotiation.SelectWireFormat"/>).</summary>
    public static void UseProtobuf(HttpContext ctx, bool jsonAlso) => ctx.Items[ProtobufKey] = jsonAlso;

    public static bool WantsProtobuf(HttpContext ctx) => ctx.Items.ContainsKey(ProtobufKey);

    /// <summary>Writes a Kubernetes object: as JSON, or as protobuf when the request negotiated it and the kind has a message.</summary>
    public static Task WriteJsonAsync(HttpContext ctx, int code, JsonNode node)
    {
        if (WantsProtobuf(ctx) && node is JsonObject o)
        {
            return WriteProtobufAsync(ctx, code, o);
        }

        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = "application/json";
        return ctx.Response.Body.WriteAsync(Json.ToUtf8(node), ctx.RequestAborted).AsTask();
    }

    /// <summary>Writes a stored object's JSON as is, or as protobuf when the request negotiated it.</summary>
    public static Task WriteRawAsync(HttpContext ctx, int code, byte[] utf8)
    {
        if (WantsProtobuf(ctx))
        {
            return WriteProtobufAsync(ctx, code, Json.Parse(utf8, "the stored object"));
        }

        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = "application/json";
        return ctx.Response.Body.WriteAsync(utf8, ctx.RequestAborted).AsTask();
    }

    private static Task WriteProtobufAsync(HttpContext ctx, int code, JsonObject o)
    {
        if (!Protobuf.KubeProtobuf.CanEncode(o))
        {
            // A kind without a protobuf message: JSON when the client accepts it too (client-go always does), else 406.
            if (ctx.Items[ProtobufKey] is not true)
            {
                throw new ApiException(406, "NotAcceptable", $"{o.Str("apiVersion")}, Kind={o.Str("kind")} has no protobuf encoding in the sandbox; accept application/json");
            }

            ctx.Items.Remove(ProtobufKey);
            return WriteJsonAsync(ctx, code, o);
        }
        byte[] body = Protobuf.KubeProtobuf.Encode(o);
        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = Protobuf.KubeProtobuf.MediaType;
        return ctx.Response.Body.WriteAsync(body, ctx.RequestAborted).AsTask();
    }

    public static bool TryLong(string? value, string name, out long? result)
    {
        result = null;
        if (string.IsNullOrEmpty(value))
        {
            return false;
        }

        if (!long.TryParse(value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out long v))
        {
            throw ApiException.BadRequest($"invalid {name} \"{value}\": must be an integer");
        }

        result = v;
        return true;
    }

    public static bool Flag(string? value) => value is "1" or "true" or "True";
}
