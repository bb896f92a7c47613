using System.Reflection;
using Microsoft.AspNetCore.Http;

namespace ClientLb.Cli.SandboxView;

/// <summary>The cluster page's files, embedded in the CLI (no internet access needed).</summary>
internal static class ClusterAssets
{
    private const string Prefix = "ClientLb.Cli.SandboxView.wwwroot.";
    private static readonly Dictionary<string, byte[]> Files = Load();

    private static Dictionary<string, byte[]> Load()
    {
        Assembly assembly = typeof(ClusterAssets).Assembly;
        var files = new Dictionary<string, byte[]>(StringComparer.Ordinal);
        foreach (string name in assembly.GetManifestResourceNames().Where(n => n.StartsWith(Prefix, StringComparison.Ordinal)))
        {
            using Stream stream = assembly.GetManifestResourceStream(name)!;
            using var copy = new MemoryStream();
            stream.CopyTo(copy);
            files[name[Prefix.Length..]] = copy.ToArray();
        }
        return files;
    }

    public static Task Serve(HttpContext context, string file)
    {
        if (!Files.TryGetValue(file, out byte[]? content))
        {
            context.Response.StatusCode = StatusCodes.Status404NotFound;
            return context.Response.WriteAsync($"clientlb sandbox: no asset '{file}'.");
        }
        context.Response.ContentType = Path.GetExtension(file) switch
        {
            ".html" => "text/html; charset=utf-8",
            ".js" => "text/javascript; charset=utf-8",
            _ => "text/css; charset=utf-8",
        };
        context.Response.Headers.CacheControl = "no-cache";
        return context.Response.Body.WriteAsync(content).AsTask();
    }
}
