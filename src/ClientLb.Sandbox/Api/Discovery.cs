using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Api;

/// <summary>The discovery documents kubectl and client libraries read to map kinds to resources.</summary>
internal static class Discovery
{
    public const string KubernetesVersion = "v1.32.0";

    public static JsonObject Version() => new()
    {
        ["major"] = "1",
        ["minor"] = "32",
        ["gitVersion"] = KubernetesVersion + "+clientlb-sandbox",
        ["gitCommit"] = "0000000000000000000000000000000000000000",
        ["gitTreeState"] = "clean",
        ["buildDate"] = "2026-01-01T00:00:00Z",
        ["goVersion"] = "go1.23.0",
        ["compiler"] = "gc",
        ["platform"] = "linux/amd64",
    };

    public static JsonObject CoreVersions(string serverAddress) => new()
    {
        ["kind"] = "APIVersions",
        ["versions"] = new JsonArray("v1"),
        ["serverAddressByClientCIDRs"] = new JsonArray(new JsonObject { ["clientCIDR"] = "0.0.0.0/0", ["serverAddress"] = serverAddress }),
    };

    private static IEnumerable<string> Groups => ResourceTypes.All.Where(t => t.Group.Length > 0).Select(t => t.Group).Distinct();

    public static JsonObject Group(string name)
    {
        var versions = ResourceTypes.All.Where(t => t.Group == name).Select(t => t.Version).Distinct().ToList();
        if (versions.Count == 0)
        {
            throw ApiException.NotFoundPath("/apis/" + name);
        }

        JsonObject Gv(string v) => new() { ["groupVersion"] = $"{name}/{v}", ["version"] = v };
        return new JsonObject
        {
            ["kind"] = "APIGroup",
            ["apiVersion"] = "v1",
            ["name"] = name,
            ["versions"] = Json.Array(versions.Select(v => (JsonNode)Gv(v))),
            ["preferredVersion"] = Gv(versions[0]),
        };
    }

    public static JsonObject GroupList()
    {
        IEnumerable<JsonNode> groups = Groups.Select(g => { JsonObject o = Group(g); o.Remove("kind"); o.Remove("apiVersion"); return (JsonNode)o; });
        return new JsonObject { ["kind"] = "APIGroupList", ["apiVersion"] = "v1", ["groups"] = Json.Array(groups) };
    }

    public static JsonObject ResourceList(string group, string version)
    {
        string gv = group.Length == 0 ? version : $"{group}/{version}";
        var resources = new JsonArray();
        foreach (ResourceType? t in ResourceTypes.All.Where(t => t.ApiVersion == gv))
        {
            var r = new JsonObject
            {
                ["name"] = t.Plural,
                ["singularName"] = t.Singular,
                ["namespaced"] = t.Namespaced,
                ["kind"] = t.Kind,
                ["verbs"] = Json.Array(t.Verbs.Select(v => (JsonNode?)v)),
            };
            if (t.ShortNames.Length > 0)
            {
                r["shortNames"] = Json.Array(t.ShortNames.Select(s => (JsonNode?)s));
            }

            if (t.Categories.Length > 0)
            {
                r["categories"] = Json.Array(t.Categories.Select(s => (JsonNode?)s));
            }

            resources.Add((JsonNode)r);
            if (t.HasStatus)
            {
                resources.Add((JsonNode)new JsonObject { ["name"] = $"{t.Plural}/status", ["singularName"] = "", ["namespaced"] = t.Namespaced, ["kind"] = t.Kind, ["verbs"] = new JsonArray("get", "patch", "update") });
            }

            if (t.HasScale)
            {
                resources.Add((JsonNode)new JsonObject { ["name"] = $"{t.Plural}/scale", ["singularName"] = "", ["namespaced"] = t.Namespaced, ["group"] = "autoscaling", ["version"] = "v1", ["kind"] = "Scale", ["verbs"] = new JsonArray("get", "patch", "update") });
            }
        }
        if (resources.Count == 0)
        {
            throw ApiException.NotFoundPath($"/apis/{gv}");
        }

        return new JsonObject { ["kind"] = "APIResourceList", ["apiVersion"] = "v1", ["groupVersion"] = gv, ["resources"] = resources };
    }
}
