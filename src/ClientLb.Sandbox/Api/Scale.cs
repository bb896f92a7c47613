using System.Text.Json;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Api;

/// <summary>The autoscaling/v1 Scale view of a deployment (the scale subresource).</summary>
internal static class Scale
{
    public static JsonObject From(StoredObject deployment)
    {
        JsonElement r = deployment.Root;
        string selector = r.Get("spec", "selector") is { } s ? LabelSelector.FromObject(s, "spec.selector").ToString() : "";
        return new JsonObject
        {
            ["kind"] = "Scale",
            ["apiVersion"] = "autoscaling/v1",
            ["metadata"] = new JsonObject
            {
                ["name"] = deployment.Name,
                ["namespace"] = deployment.Namespace,
                ["uid"] = deployment.Uid,
                ["resourceVersion"] = deployment.ResourceVersion.ToString(System.Globalization.CultureInfo.InvariantCulture),
                ["creationTimestamp"] = r.Str("metadata", "creationTimestamp"),
            },
            ["spec"] = new JsonObject { ["replicas"] = r.Int("spec", "replicas") ?? 0 },
            ["status"] = new JsonObject { ["replicas"] = r.Int("status", "replicas") ?? 0, ["selector"] = selector },
        };
    }
}
