using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;
using Microsoft.Extensions.Logging;

namespace ClientLb.Sandbox.Controllers;

/// <summary>
/// Deployments to pods, directly (no ReplicaSets): keeps spec.replicas pods of the current template
/// (labelled pod-template-hash), replaces pods of an old template once the new ones are ready, and reports status.
/// </summary>
internal sealed class DeploymentController(ObjectStore store, ILogger logger, EventRecorder? events = null) : Controller(store, logger)
{
    public const string TemplateHashLabel = "pod-template-hash";

    protected override void OnEvent(WatchEvent e)
    {
        StoredObject o = e.Object!;
        if (o.Type == ResourceTypes.Deployments)
        {
            Enqueue(KeyOf(o));
        }
        else
        {
            EnqueueControllerOwner(e, "Deployment");
        }
    }

    protected override Task ReconcileAsync(string key, CancellationToken ct)
    {
        (string? ns, string? name) = SplitKey(key);
        StoredObject? d = Store.Get(ResourceTypes.Deployments, ns, name);
        if (d is null || d.IsDeleting)
        {
            return Task.CompletedTask; // dependents go through the garbage collector
        }

        JsonElement template = d.Root.Get("spec", "template")!.Value;
        string hash = TemplateHash(template);
        List<StoredObject> owned = Store.Snapshot(ResourceTypes.Pods, ns, p => IsOwnedBy(p, d.Uid));
        var active = owned.Where(p => !p.IsDeleting && !PodStatus.IsFinished(p)).ToList();
        var current = active.Where(p => p.Labels.GetValueOrDefault(TemplateHashLabel) == hash).ToList();
        var old = active.Except(current).ToList();
        int replicas = (int)(d.Root.Int("spec", "replicas") ?? 1);

        if (current.Count != replicas)
        {
            events?.Normal(d, "deployment-controller", "ScalingReplicaSet",
                $"Scaled {(current.Count < replicas ? "up" : "down")} replica set {d.Name}-{hash} from {current.Count} to {replicas}");
        }

        for (int i = current.Count; i < replicas; i++)
        {
            current.Add(Store.Create(ResourceTypes.Pods, ns, NewPod(d, "Deployment", template, hash, $"{d.Name}-{hash}-")));
        }

        if (current.Count > replicas)
        {
            // Like the ReplicaSet controller: unscheduled, then not ready, then newest pods go first.
            var victims = current
                .OrderBy(p => string.IsNullOrEmpty(p.Root.Str("spec", "nodeName")) ? 0 : 1)
                .ThenBy(p => PodStatus.IsReady(p) ? 1 : 0)
                .ThenByDescending(p => p.Root.Str("metadata", "creationTimestamp"), StringComparer.Ordinal)
                .ThenByDescending(p => p.ResourceVersion)
                .Take(current.Count - replicas).ToList();
            foreach (StoredObject? v in victims)
            {
                Delete(v);
            }

            current = current.Except(victims).ToList();
        }
        // Old-template pods stay until the new ones are ready, so the service keeps endpoints during a rollout.
        if (old.Count > 0 && current.Count(PodStatus.IsReady) >= replicas)
        {
            foreach (StoredObject? p in old)
            {
                Delete(p);
            }
        }

        UpdateStatus(d, replicas, active, current);
        return Task.CompletedTask;
    }

    private void Delete(StoredObject pod)
    {
        try { Store.Delete(ResourceTypes.Pods, pod.Namespace, pod.Name, new DeleteOptions()); }
        catch (ApiException ex) when (ex.Code == 404) { }
    }

    private void UpdateStatus(StoredObject d, int replicas, List<StoredObject> active, List<StoredObject> current)
    {
        int ready = active.Count(PodStatus.IsReady);
        string now = Json.Timestamp(Store.Time.GetUtcNow());
        Store.Mutate(ResourceTypes.Deployments, d.Namespace, d.Name, obj =>
        {
            var oldStatus = obj["status"] as JsonObject;
            bool available = ready >= replicas;
            var status = new JsonObject
            {
                ["observedGeneration"] = obj.Node("metadata", "generation")?.DeepClone(),
                ["replicas"] = active.Count,
                ["updatedReplicas"] = current.Count,
                ["readyReplicas"] = ready,
                ["availableReplicas"] = ready,
            };
            if (replicas - ready > 0)
            {
                status["unavailableReplicas"] = replicas - ready;
            }

            status["conditions"] = new JsonArray(
                Condition(oldStatus, "Available", available, available ? "MinimumReplicasAvailable" : "MinimumReplicasUnavailable",
                    available ? "Deployment has minimum availability." : "Deployment does not have minimum availability.", now),
                Condition(oldStatus, "Progressing", true, current.Count >= replicas ? "NewReplicaSetAvailable" : "ReplicaSetUpdated",
                    $"Deployment \"{d.Name}\" is progressing.", now));
            obj["status"] = status;
            return obj;
        }, UpdateMode.Internal);
    }

    /// <summary>A condition that keeps its lastTransitionTime while its status does not change.</summary>
    internal static JsonObject Condition(JsonObject? oldStatus, string type, bool value, string reason, string message, string now)
    {
        string status = value ? "True" : "False";
        JsonObject? previous = (oldStatus?["conditions"] as JsonArray)?.OfType<JsonObject>().FirstOrDefault(c => c.Str("type") == type);
        string since = previous is not null && previous.Str("status") == status ? previous.Str("lastTransitionTime") ?? now : now;
        var condition = new JsonObject { ["type"] = type, ["status"] = status, ["lastTransitionTime"] = since, ["reason"] = reason };
        if (message.Length > 0)
        {
            condition["message"] = message; // omitempty, as the API server writes it
        }

        return condition;
    }

    /// <summary>A pod from a workload's template, labelled with the template hash (when given) and owned by the workload.</summary>
    internal static JsonObject NewPod(StoredObject d, string kind, JsonElement template, string? hash, string generateName)
    {
        JsonObject tmpl = JsonNode.Parse(template.GetRawText())!.AsObject();
        JsonObject meta = tmpl["metadata"] as JsonObject ?? new JsonObject();
        JsonObject labels = meta["labels"] as JsonObject ?? new JsonObject();
        if (hash is not null)
        {
            labels[TemplateHashLabel] = hash;
        }

        var podMeta = new JsonObject
        {
            ["generateName"] = generateName,
            ["namespace"] = d.Namespace,
            ["labels"] = labels.DeepClone(),
            ["ownerReferences"] = new JsonArray(new JsonObject
            {
                ["apiVersion"] = d.Type.ApiVersion,
                ["kind"] = kind,
                ["name"] = d.Name,
                ["uid"] = d.Uid,
                ["controller"] = true,
                ["blockOwnerDeletion"] = true,
            }),
        };
        if (meta["annotations"] is JsonObject annotations)
        {
            podMeta["annotations"] = annotations.DeepClone();
        }

        return new JsonObject { ["apiVersion"] = "v1", ["kind"] = "Pod", ["metadata"] = podMeta, ["spec"] = tmpl["spec"]?.DeepClone() };
    }

    /// <summary>FNV-1a of the template, encoded like Kubernetes' SafeEncodeString (no vowels, no look-alike characters).</summary>
    public static string TemplateHash(JsonElement template)
    {
        uint h = 2166136261;
        foreach (byte b in Encoding.UTF8.GetBytes(template.GetRawText())) { h ^= b; h *= 16777619; }
        const string alphabet = "bcdfghjklmnpqrstvwxz2456789";
        string digits = h.ToString(System.Globalization.CultureInfo.InvariantCulture);
        return string.Concat(digits.Select(c => alphabet[c % alphabet.Length]));
    }
}
