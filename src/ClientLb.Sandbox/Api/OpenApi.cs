using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Api;

/// <summary>
/// A minimal OpenAPI v3 index: per group-version, the paths with their GVK and the fieldValidation parameter.
/// kubectl reads it to learn that the server validates fields itself (it then sends fieldValidation=Strict
/// instead of validating client-side); no schemas are published.
/// </summary>
internal static class OpenApi
{
    private const string Hash = "clientlb-sandbox-1";

    private static string ApiPath(string gv) => gv.Contains('/') ? $"apis/{gv}" : $"api/{gv}";

    public static JsonObject Root()
    {
        var paths = new JsonObject();
        foreach (string gv in ResourceTypes.GroupVersions)
        {
            paths[ApiPath(gv)] = new JsonObject { ["serverRelativeURL"] = $"/openapi/v3/{ApiPath(gv)}?hash={Hash}" };
        }

        return new JsonObject { ["paths"] = paths };
    }

    /// <summary>The document of one group-version, or null when there is none at <paramref name="path"/>.</summary>
    public static JsonObject? GroupVersion(string path)
    {
        string? gv = ResourceTypes.GroupVersions.FirstOrDefault(g => ApiPath(g) == path);
        if (gv is null)
        {
            return null;
        }

        var paths = new JsonObject();
        foreach (ResourceType? t in ResourceTypes.All.Where(t => t.ApiVersion == gv))
        {
            string prefix = "/" + ApiPath(gv) + (t.Namespaced ? "/namespaces/{namespace}" : "");
            paths[$"{prefix}/{t.Plural}"] = new JsonObject { ["post"] = Operation(t, "create"), ["get"] = Operation(t, "list") };
            paths[$"{prefix}/{t.Plural}/{{name}}"] = new JsonObject { ["put"] = Operation(t, "replace"), ["patch"] = Operation(t, "patch"), ["get"] = Operation(t, "read") };
        }
        return new JsonObject
        {
            ["openapi"] = "3.0.0",
            ["info"] = new JsonObject { ["title"] = "ClientLb sandbox", ["version"] = Discovery.KubernetesVersion },
            ["paths"] = paths,
            ["components"] = new JsonObject { ["schemas"] = new JsonObject() },
        };
    }

    private static JsonObject Operation(ResourceType t, string verb)
    {
        var op = new JsonObject
        {
            ["operationId"] = $"{verb}{t.Kind}",
            ["x-kubernetes-group-version-kind"] = new JsonObject { ["group"] = t.Group, ["version"] = t.Version, ["kind"] = t.Kind },
            ["responses"] = new JsonObject { ["200"] = new JsonObject { ["description"] = "OK" } },
        };
        if (verb is "create" or "replace" or "patch")
        {
            op["parameters"] = new JsonArray(new JsonObject
            {
                ["name"] = "fieldValidation",
                ["in"] = "query",
                ["description"] = "Ignore, Warn or Strict: how unknown fields are treated (the sandbox checks top-level, metadata and spec fields).",
                ["schema"] = new JsonObject { ["type"] = "string", ["uniqueItems"] = true },
            });
        }

        return op;
    }
}
