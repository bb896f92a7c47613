using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;
using Microsoft.AspNetCore.Http;

namespace ClientLb.Sandbox.Api;

/// <summary>
/// The fieldValidation query parameter (Ignore, Warn, Strict). Without schemas the sandbox knows the fields of
/// objects' top level, metadata and (for services, deployments, daemonsets and jobs) spec; deeper unknown fields pass unchecked.
/// </summary>
internal static class FieldValidation
{
    private static readonly HashSet<string> Metadata = ["name", "generateName", "namespace", "selfLink", "uid", "resourceVersion", "generation",
        "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "labels", "annotations", "ownerReferences", "finalizers", "managedFields"];

    private static readonly Dictionary<string, HashSet<string>> TopLevel = new()
    {
        ["Namespace"] = ["spec", "status"],
        ["Node"] = ["spec", "status"],
        ["Service"] = ["spec", "status"],
        ["Pod"] = ["spec", "status"],
        ["Deployment"] = ["spec", "status"],
        ["EndpointSlice"] = ["addressType", "endpoints", "ports"],
        ["Endpoints"] = ["subsets"],
        ["ServiceAccount"] = ["secrets", "imagePullSecrets", "automountServiceAccountToken"],
        ["ConfigMap"] = ["data", "binaryData", "immutable"],
        ["Secret"] = ["data", "stringData", "type", "immutable"],
        ["Event"] = ["involvedObject", "reason", "message", "source", "firstTimestamp", "lastTimestamp", "count", "type", "eventTime", "series", "action",
            "related", "reportingComponent", "reportingInstance"],
        ["DaemonSet"] = ["spec", "status"],
        ["Job"] = ["spec", "status"],
        ["Role"] = ["rules"],
        ["ClusterRole"] = ["rules", "aggregationRule"],
        ["RoleBinding"] = ["subjects", "roleRef"],
        ["ClusterRoleBinding"] = ["subjects", "roleRef"],
    };

    private static readonly Dictionary<string, HashSet<string>> Spec = new()
    {
        ["Service"] = ["ports", "selector", "clusterIP", "clusterIPs", "type", "externalIPs", "sessionAffinity", "loadBalancerIP", "loadBalancerSourceRanges",
            "externalName", "externalTrafficPolicy", "healthCheckNodePort", "publishNotReadyAddresses", "sessionAffinityConfig", "ipFamilies", "ipFamilyPolicy",
            "allocateLoadBalancerNodePorts", "loadBalancerClass", "internalTrafficPolicy", "trafficDistribution"],
        ["Deployment"] = ["replicas", "selector", "template", "strategy", "minReadySeconds", "revisionHistoryLimit", "paused", "progressDeadlineSeconds"],
        ["DaemonSet"] = ["selector", "template", "updateStrategy", "minReadySeconds", "revisionHistoryLimit"],
        ["Job"] = ["parallelism", "completions", "activeDeadlineSeconds", "podFailurePolicy", "successPolicy", "backoffLimit", "backoffLimitPerIndex",
            "maxFailedIndexes", "selector", "manualSelector", "template", "ttlSecondsAfterFinished", "completionMode", "suspend", "podReplacementPolicy", "managedBy"],
    };

    /// <summary>Checks <paramref name="obj"/> as the request's fieldValidation asks: 400 under Strict, a Warning header under Warn (the default).</summary>
    public static void Check(HttpContext ctx, ResourceType t, JsonObject obj)
    {
        string mode = ctx.Request.Query["fieldValidation"].ToString();
        if (mode is not ("" or "Ignore" or "Warn" or "Strict"))
        {
            throw ApiException.BadRequest($"fieldValidation \"{mode}\" is not one of Ignore, Warn, Strict");
        }

        if (mode == "Ignore")
        {
            return;
        }

        var unknown = new List<string>();
        Collect(obj, "", new HashSet<string>(["apiVersion", "kind", "metadata", .. TopLevel.GetValueOrDefault(t.Kind, [])]), unknown);
        if (obj["metadata"] is JsonObject meta)
        {
            Collect(meta, "metadata.", Metadata, unknown);
        }

        if (Spec.TryGetValue(t.Kind, out HashSet<string>? specFields) && obj["spec"] is JsonObject spec)
        {
            Collect(spec, "spec.", specFields, unknown);
        }

        if (unknown.Count == 0)
        {
            return;
        }

        if (mode == "Strict")
        {
            throw ApiException.BadRequest("strict decoding error: " + string.Join(", ", unknown.Select(u => $"unknown field \"{u}\"")));
        }

        foreach (string u in unknown)
        {
            ctx.Response.Headers.Append("Warning", $"299 - \"unknown field \\\"{u}\\\"\"");
        }
    }

    private static void Collect(JsonObject o, string prefix, IReadOnlySet<string> known, List<string> unknown)
    {
        foreach ((string? k, JsonNode? _) in o)
        {
            if (!known.Contains(k))
            {
                unknown.Add(prefix + k);
            }
        }
    }
}
