using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Admission;

/// <summary>
/// batch/v1 Jobs: upstream's defaults (parallelism and completions 1, backoffLimit 6, NonIndexed), the generated selector on
/// <c>batch.kubernetes.io/controller-uid</c> with the job-name and controller-uid labels on the template, restartPolicy
/// Never or OnFailure, and an immutable template and selector. The features the sandbox's Job controller does not
/// implement are refused by name rather than ignored.
/// </summary>
internal sealed class JobStrategy(long defaultGraceSeconds) : DefaultStrategy
{
    private static readonly ResourceType T = ResourceTypes.Jobs;
    public const string ControllerUidLabel = "batch.kubernetes.io/controller-uid";
    public const string JobNameLabel = "batch.kubernetes.io/job-name";

    private static readonly string[] UnsupportedFields = ["podFailurePolicy", "successPolicy", "backoffLimitPerIndex", "maxFailedIndexes", "managedBy"];

    public override void PrepareForCreate(JsonObject obj, ObjectStore store)
    {
        if (obj["spec"] is JsonObject spec && spec["manualSelector"]?.GetValue<bool>() != true)
        {
            string uid = obj.Str("metadata", "uid")!;
            string name = obj.Str("metadata", "name") ?? "";
            if (spec["selector"] is not null)
            {
                ThrowIfAny(T, obj, [InvalidValue("spec.selector", spec["selector"], "`selector` will be auto-generated")]);
            }

            spec["selector"] = new JsonObject { ["matchLabels"] = new JsonObject { [ControllerUidLabel] = uid } };
            JsonObject labels = spec.Obj("template").Obj("metadata").Obj("labels");
            labels[ControllerUidLabel] = uid;
            labels[JobNameLabel] = name;
            labels["controller-uid"] = uid;
            labels["job-name"] = name;
        }
        Check(obj, null);
        obj["status"] = new JsonObject();
    }

    public override void PrepareForUpdate(JsonObject obj, StoredObject old, UpdateMode mode, ObjectStore store)
    {
        if (mode != UpdateMode.Main)
        {
            return;
        }

        Check(obj, old);
    }

    private void Check(JsonObject obj, StoredObject? old)
    {
        if (obj["spec"] is not JsonObject spec) { ThrowIfAny(T, obj, [Required("spec")]); return; }
        if (spec["completions"] is null && spec["parallelism"] is null)
        {
            spec["completions"] = 1;
        }

        spec["parallelism"] ??= 1;
        spec["backoffLimit"] ??= 6;
        spec["completionMode"] ??= "NonIndexed";
        spec["suspend"] ??= false;
        spec["podReplacementPolicy"] ??= "TerminatingOrFailed";
        if (spec.Node("template", "spec") is JsonObject podSpec)
        {
            podSpec["restartPolicy"] ??= "Never"; // as kubectl create job sends it; the API server requires one of Never/OnFailure
            PodSpecRules.Default(podSpec, defaultGraceSeconds);
        }

        var causes = new List<StatusCause>();
        foreach (string? field in new[] { "parallelism", "completions", "backoffLimit", "activeDeadlineSeconds", "ttlSecondsAfterFinished" })
        {
            if (spec[field] is { } v && (Json.AsLong(v) is not long n || n < (field == "activeDeadlineSeconds" ? 1 : 0)))
            {
                causes.Add(InvalidValue($"spec.{field}", v, field == "activeDeadlineSeconds" ? "must be greater than 0" : "must be greater than or equal to 0"));
            }
        }

        DeploymentStrategy.CheckSelector(spec, old, "job", causes);
        PodSpecRules.Validate(spec.Node("template", "spec"), "spec.template.spec", causes);
        string? restart = spec.Str("template", "spec", "restartPolicy");
        if (restart is not ("Never" or "OnFailure"))
        {
            causes.Add(Unsupported("spec.template.spec.restartPolicy", restart, "OnFailure", "Never"));
        }

        if (spec.Str("completionMode") is { } mode && mode != "NonIndexed")
        {
            causes.Add(new("FieldValueNotSupported", "spec.completionMode", $"Unsupported value: \"{mode}\": the sandbox's Job controller runs NonIndexed Jobs only"));
        }

        foreach (string? field in UnsupportedFields.Where(f => spec[f] is not null))
        {
            causes.Add(new("FieldValueForbidden", $"spec.{field}", $"Forbidden: the sandbox's Job controller does not implement {field}; remove it to run the Job here"));
        }

        if (old is not null && old.Root.Get("spec", "template") is { } oldTemplate && !JsonNode.DeepEquals(JsonNode.Parse(oldTemplate.GetRawText()), spec["template"]))
        {
            causes.Add(new("FieldValueInvalid", "spec.template", "Invalid value: field is immutable"));
        }

        if (old is not null && old.Root.Int("spec", "completions") is var oldCompletions && Json.AsLong(spec["completions"]) != oldCompletions)
        {
            causes.Add(Immutable("spec.completions", spec["completions"]));
        }

        ThrowIfAny(T, obj, causes);
    }
}
