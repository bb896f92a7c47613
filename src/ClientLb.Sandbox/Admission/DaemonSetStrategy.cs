using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Admission;

/// <summary>apps/v1 DaemonSets: defaults, selector/template agreement, immutable selector, restartPolicy Always.</summary>
internal sealed class DaemonSetStrategy(long defaultGraceSeconds) : DefaultStrategy
{
    private static readonly ResourceType T = ResourceTypes.DaemonSets;

    public override void PrepareForCreate(JsonObject obj, ObjectStore store)
    {
        Check(obj, null);
        obj["status"] = new JsonObject { ["currentNumberScheduled"] = 0, ["numberMisscheduled"] = 0, ["desiredNumberScheduled"] = 0, ["numberReady"] = 0 };
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
        spec["revisionHistoryLimit"] ??= 10;
        spec["updateStrategy"] ??= new JsonObject
        {
            ["type"] = "RollingUpdate",
            ["rollingUpdate"] = new JsonObject { ["maxUnavailable"] = 1, ["maxSurge"] = 0 },
        };
        if (spec.Node("template", "spec") is JsonObject podSpec)
        {
            PodSpecRules.Default(podSpec, defaultGraceSeconds);
        }

        var causes = new List<StatusCause>();
        DeploymentStrategy.CheckSelector(spec, old, "daemonset", causes);
        PodSpecRules.Validate(spec.Node("template", "spec"), "spec.template.spec", causes);
        if (spec.Str("template", "spec", "restartPolicy") is { } restart && restart != "Always")
        {
            causes.Add(Unsupported("spec.template.spec.restartPolicy", restart, "Always"));
        }

        string? strategyType = spec.Str("updateStrategy", "type");
        if (strategyType is not ("RollingUpdate" or "OnDelete"))
        {
            causes.Add(Unsupported("spec.updateStrategy.type", strategyType, "OnDelete", "RollingUpdate"));
        }

        ThrowIfAny(T, obj, causes);
    }
}
