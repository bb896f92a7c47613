using System.Text.Json;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Admission;

/// <summary>apps/v1 Deployments: defaults, selector/template agreement, immutable selector.</summary>
internal sealed class DeploymentStrategy(long defaultGraceSeconds) : DefaultStrategy
{
    private static readonly ResourceType T = ResourceTypes.Deployments;

    public override void PrepareForCreate(JsonObject obj, ObjectStore store)
    {
        Check(obj, null);
        obj["status"] = new JsonObject();
    }

    public override void PrepareForUpdate(JsonObject obj, StoredObject old, UpdateMode mode, ObjectStore store)
    {
        if (mode == UpdateMode.Status)
        {
            return;
        }

        Check(obj, old);
    }

    private void Check(JsonObject obj, StoredObject? old)
    {
        if (obj["spec"] is not JsonObject spec) { ThrowIfAny(T, obj, [Required("spec")]); return; }
        spec["replicas"] ??= 1;
        spec["revisionHistoryLimit"] ??= 10;
        spec["progressDeadlineSeconds"] ??= 600;
        // As upstream's SetDefaults_Deployment: a missing or empty strategy is RollingUpdate 25%/25% (protobuf clients send strategy: {}).
        JsonObject strategy = spec.Obj("strategy");
        strategy["type"] ??= "RollingUpdate";
        if (strategy.Str("type") == "RollingUpdate")
        {
            JsonObject rolling = strategy.Obj("rollingUpdate");
            rolling["maxUnavailable"] ??= "25%";
            rolling["maxSurge"] ??= "25%";
        }
        if (spec.Node("template", "spec") is JsonObject podSpec)
        {
            PodSpecRules.Default(podSpec, defaultGraceSeconds);
        }

        var causes = new List<StatusCause>();
        long? replicas = Json.AsLong(spec["replicas"]) is long r ? r : (long?)null;
        if (replicas is null or < 0)
        {
            causes.Add(InvalidValue("spec.replicas", spec["replicas"], "must be greater than or equal to 0"));
        }

        CheckSelector(spec, old, "deployment", causes);
        PodSpecRules.Validate(spec.Node("template", "spec"), "spec.template.spec", causes);
        string? strategyType = spec.Str("strategy", "type");
        if (strategyType is not ("RollingUpdate" or "Recreate"))
        {
            causes.Add(Unsupported("spec.strategy.type", strategyType, "Recreate", "RollingUpdate"));
        }

        ThrowIfAny(T, obj, causes);
    }

    /// <summary>The selector rules workloads share: required, matching the template's labels, immutable.</summary>
    internal static void CheckSelector(JsonObject spec, StoredObject? old, string what, List<StatusCause> causes)
    {
        var selectorNode = spec["selector"] as JsonObject;
        if (selectorNode is null || (selectorNode["matchLabels"] is not JsonObject { Count: > 0 } && selectorNode["matchExpressions"] is not JsonArray { Count: > 0 }))
        {
            causes.Add(new("FieldValueRequired", "spec.selector", $"Required value: empty selector is invalid for {what}"));
        }
        else
        {
            JsonElement selectorEl = Json.ToElement(selectorNode);
            LabelSelector selector;
            try { selector = LabelSelector.FromObject(selectorEl, "spec.selector"); }
            catch (ApiException ex) { causes.Add(new("FieldValueInvalid", "spec.selector", ex.Message)); selector = LabelSelector.Everything; }
            Dictionary<string, string> templateLabels = Json.ToElement(spec.Node("template", "metadata") ?? new JsonObject()).Map("labels");
            if (!selector.Matches(templateLabels))
            {
                causes.Add(InvalidValue("spec.template.metadata.labels", spec.Node("template", "metadata", "labels")?.ToJsonString() ?? "{}", "`selector` does not match template `labels`"));
            }

            if (old is not null && old.Root.Get("spec", "selector") is { } oldSel && !JsonNode.DeepEquals(JsonNode.Parse(oldSel.GetRawText()), selectorNode))
            {
                causes.Add(Immutable("spec.selector", selectorNode));
            }
        }
    }
}
