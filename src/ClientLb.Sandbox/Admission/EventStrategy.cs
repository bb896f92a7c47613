using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Admission;

/// <summary>core v1 Events: the involved object's namespace matches the Event's, type is Normal or Warning.</summary>
internal sealed class EventStrategy : DefaultStrategy
{
    public override void PrepareForCreate(JsonObject obj, ObjectStore store) => ThrowIfAny(ResourceTypes.Events, obj, Validate(obj));

    public override void PrepareForUpdate(JsonObject obj, StoredObject old, UpdateMode mode, ObjectStore store) => ThrowIfAny(ResourceTypes.Events, obj, Validate(obj));

    private static List<StatusCause> Validate(JsonObject obj)
    {
        var causes = new List<StatusCause>();
        string? ns = obj.Str("metadata", "namespace");
        string? involvedNs = obj.Str("involvedObject", "namespace");
        if (obj["involvedObject"] is not JsonObject)
        {
            causes.Add(Required("involvedObject"));
        }
        else if (!string.IsNullOrEmpty(involvedNs) && involvedNs != ns)
        {
            causes.Add(InvalidValue("involvedObject.namespace", involvedNs, "does not match event.namespace"));
        }

        if (obj.Str("type") is { } type && type is not ("Normal" or "Warning"))
        {
            causes.Add(Unsupported("type", type, "Normal", "Warning"));
        }

        if ((obj.Str("reason") ?? "").Length > 128)
        {
            causes.Add(new("FieldValueTooLong", "reason", "Too long: may not be longer than 128"));
        }

        if ((obj.Str("message") ?? "").Length > 1024 * 4)
        {
            causes.Add(new("FieldValueTooLong", "message", "Too long: may not be longer than 4096"));
        }

        return causes;
    }
}
