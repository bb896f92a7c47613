using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Admission;

/// <summary>Namespaces: the metadata.name label, Active/Terminating phases, and protected system namespaces.</summary>
internal sealed class NamespaceStrategy : DefaultStrategy
{
    private static readonly string[] Protected = ["default", "kube-system", "kube-public"];

    public override void PrepareForCreate(JsonObject obj, ObjectStore store)
    {
        JsonObject meta = obj.Metadata();
        meta.Obj("labels")["kubernetes.io/metadata.name"] = meta.Str("name");
        obj["spec"] = new JsonObject { ["finalizers"] = new JsonArray("kubernetes") };
        obj["status"] = new JsonObject { ["phase"] = "Active" };
    }

    public override void PrepareForUpdate(JsonObject obj, StoredObject old, UpdateMode mode, ObjectStore store)
    {
        obj.Metadata().Obj("labels")["kubernetes.io/metadata.name"] = obj.Metadata().Str("name");
    }

    /// <summary>Deletion marks the namespace Terminating; the namespace controller empties and then removes it.</summary>
    public override bool BeginGracefulDelete(JsonObject obj, StoredObject current, long? gracePeriodSeconds, DateTimeOffset now)
    {
        if (Protected.Contains(current.Name))
        {
            throw ApiException.Forbidden($"namespaces \"{current.Name}\" is forbidden: this namespace may not be deleted");
        }

        JsonObject meta = obj.Metadata();
        meta["deletionTimestamp"] ??= Json.Timestamp(now);
        obj.Obj("status")["phase"] = "Terminating";
        return true;
    }
}
