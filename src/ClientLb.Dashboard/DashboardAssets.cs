using System.Net;
using System.Reflection;
using System.Security.Cryptography;
using Microsoft.AspNetCore.Http;
using Microsoft.Net.Http.Headers;

namespace ClientLb.Dashboard;

/// <summary>The page's files, embedded in the assembly (no internet access, no CDN): read once, served with an ETag.</summary>
internal sealed class DashboardAssets
{
    private readonly Dictionary<string, Asset> _assets = new(StringComparer.Ordinal);

    public DashboardAssets(string title)
    {
        Assembly assembly = typeof(DashboardAssets).Assembly;
        const string prefix = "ClientLb.Dashboard.wwwroot.";
        foreach (string name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(prefix, StringComparison.Ordinal)))
        {
            using Stream stream = assembly.GetManifestResourceStream(name)!;
            using var buffer = new MemoryStream();
            stream.CopyTo(buffer);
            string file = name[prefix.Length..];
            byte[] content = buffer.ToArray();
            if (file == "index.html")
            {
                content = System.Text.Encoding.UTF8.GetBytes(System.Text.Encoding.UTF8.GetString(content).Replace("{{title}}", WebUtility.HtmlEncode(title), StringComparison.Ordinal));
            }
            _assets[file] = new Asset(content, ContentType(file), "\"" + Convert.ToHexString(SHA256.HashData(content))[..16] + "\"");
        }
    }

    /// <summary>Serves <paramref name="file"/>, or 404 naming it.</summary>
    public Task Serve(HttpContext context, string file)
    {
        if (!_assets.TryGetValue(file, out Asset? asset))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return context.Response.WriteAsync($"ClientLb dashboard: no asset '{file}'.");
        }
        context.Response.Headers.CacheControl = "no-cache";
        context.Response.Headers.ETag = asset.ETag;
        if (context.Request.Headers.IfNoneMatch == asset.ETag)
        {
            context.Response.StatusCode = StatusCodes.Status304NotModified;
            return Task.CompletedTask;
        }
        context.Response.ContentType = asset.ContentType;
        context.Response.ContentLength = asset.Content.Length;
        return context.Response.Body.WriteAsync(asset.Content).AsTask();
    }

    private static string ContentType(string file) => Path.GetExtension(file) switch
    {
        ".html" => "text/html; charset=utf-8",
        ".js" => "text/javascript; charset=utf-8",
        ".css" => "text/css; charset=utf-8",
        ".svg" => "image/svg+xml",
        _ => "application/octet-stream",
    };

    private sealed record Asset(byte[] Content, string ContentType, string ETag);
}
