using System.Text.Json;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;
using Microsoft.AspNetCore.Http;

namespace ClientLb.Sandbox.Api;

/// <summary>Reading request bodies and writing JSON responses.</summary>
internal static class HttpIo
{
    const int MaxBodyBytes = 3 * 1024 * 1024; // the API server's request size limit

    public static async Task<byte[]> ReadBodyAsync(HttpContext ctx)
    {
        if (ctx.Request.ContentLength > MaxBodyBytes) throw TooLarge();
        using var ms = new MemoryStream();
        var buffer = new byte[16 * 1024];
        int n;
        try
        {
            while ((n = await ctx.Request.Body.ReadAsync(buffer, ctx.RequestAborted)) > 0)
            {
                ms.Write(buffer, 0, n);
                if (ms.Length > MaxBodyBytes) throw TooLarge();
            }
        }
        catch (BadHttpRequestException ex) when (ex.StatusCode == StatusCodes.Status413PayloadTooLarge)
        {
            // Kestrel's own limit (MaxRequestBodySize) was hit first: still the client's too-large body, not a server error.
            throw TooLarge();
        }
        return ms.ToArray();
    }

    static ApiException TooLarge() => new(413, "RequestEntityTooLarge", $"the request body is larger than {MaxBodyBytes} bytes");

    /// <summary>Reads a JSON object body, insisting on a JSON content type.</summary>
    public static async Task<JsonObject> ReadObjectAsync(HttpContext ctx, string what)
    {
        var ct = ctx.Request.ContentType ?? "application/json";
        var media = ct.Split(';')[0].Trim().ToLowerInvariant();
        if (media == "application/vnd.kubernetes.protobuf")
            throw new ApiException(415, "UnsupportedMediaType", "the sandbox API server speaks JSON only, not protobuf (kubectl's typed generators such as `kubectl create namespace|deployment` send protobuf; use `kubectl create -f` with a manifest instead)");
        if (media is not ("application/json" or "*/*"))
            throw ApiException.UnsupportedMediaType(ct);
        var body = await ReadBodyAsync(ctx);
        if (body.Length == 0) throw ApiException.BadRequest($"{what}: the request body is empty; expected a JSON object");
        return Json.Parse(body, what);
    }

    public static Task WriteJsonAsync(HttpContext ctx, int code, JsonNode node)
    {
        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = "application/json";
        return ctx.Response.Body.WriteAsync(Json.ToUtf8(node), ctx.RequestAborted).AsTask();
    }

    public static Task WriteRawAsync(HttpContext ctx, int code, byte[] utf8)
    {
        ctx.Response.StatusCode = code;
        ctx.Response.ContentType = "application/json";
        return ctx.Response.Body.WriteAsync(utf8, ctx.RequestAborted).AsTask();
    }

    public static bool TryLong(string? value, string name, out long? result)
    {
        result = null;
        if (string.IsNullOrEmpty(value)) return false;
        if (!long.TryParse(value, System.Globalization.NumberStyles.Integer, System.Globalization.CultureInfo.InvariantCulture, out var v))
            throw ApiException.BadRequest($"invalid {name} \"{value}\": must be an integer");
        result = v;
        return true;
    }

    public static bool Flag(string? value) => value is "1" or "true" or "True";
}
