using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Admission;

/// <summary>Pods: defaults, validation, immutable spec, and graceful deletion (terminating for the grace period).</summary>
internal sealed class PodStrategy(long defaultGraceSeconds) : DefaultStrategy
{
    public override void PrepareForCreate(JsonObject obj, ObjectStore store)
    {
        if (obj["spec"] is JsonObject spec)
        {
            PodSpecRules.Default(spec, defaultGraceSeconds);
        }

        var causes = new List<StatusCause>();
        PodSpecRules.Validate(obj["spec"], "spec", causes);
        ThrowIfAny(ResourceTypes.Pods, obj, causes);
        obj["status"] = new JsonObject { ["phase"] = "Pending", ["qosClass"] = "BestEffort" };
    }

    public override void PrepareForUpdate(JsonObject obj, StoredObject old, UpdateMode mode, ObjectStore store)
    {
        if (mode == UpdateMode.Internal || mode == UpdateMode.Status)
        {
            return;
        }

        if (obj["spec"] is JsonObject spec)
        {
            PodSpecRules.Default(spec, defaultGraceSeconds);
        }

        var causes = new List<StatusCause>();
        PodSpecRules.Validate(obj["spec"], "spec", causes);
        // Like the API server: only container images may change on a running pod.
        if (!Json.DeepEquals(WithoutImages(obj["spec"]), WithoutImages(old.ToMutable()["spec"])))
        {
            causes.Add(new("FieldValueForbidden", "spec", "Forbidden: pod updates may not change fields other than `spec.containers[*].image` (the sandbox allows image changes only)"));
        }

        ThrowIfAny(ResourceTypes.Pods, obj, causes);
    }

    private static JsonNode? WithoutImages(JsonNode? spec)
    {
        JsonNode? copy = spec?.DeepClone();
        if (copy?["containers"] is JsonArray cs)
        {
            foreach (JsonObject c in cs.OfType<JsonObject>())
            {
                c.Remove("image");
            }
        }

        return copy;
    }

    public override bool BeginGracefulDelete(JsonObject obj, StoredObject current, long? gracePeriodSeconds, DateTimeOffset now)
    {
        long grace = gracePeriodSeconds ?? current.Root.Int("spec", "terminationGracePeriodSeconds") ?? defaultGraceSeconds;
        string? phase = current.Root.Str("status", "phase");
        // Never-scheduled and finished pods have nothing to stop: they go at once.
        if (grace <= 0 || string.IsNullOrEmpty(current.Root.Str("spec", "nodeName")) || phase is "Succeeded" or "Failed")
        {
            return false;
        }

        JsonObject meta = obj.Metadata();
        DateTimeOffset deadline = now.AddSeconds(grace);
        if (current.IsDeleting)
        {
            // A second delete may only shorten the grace period.
            var existing = DateTimeOffset.Parse(current.Root.Str("metadata", "deletionTimestamp")!, System.Globalization.CultureInfo.InvariantCulture);
            if (deadline >= existing)
            {
                return true;
            }
        }
        meta["deletionTimestamp"] = Json.Timestamp(deadline);
        meta["deletionGracePeriodSeconds"] = grace;
        return true;
    }
}
