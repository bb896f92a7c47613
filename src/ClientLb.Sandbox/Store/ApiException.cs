using System.Text.Json.Nodes;

namespace ClientLb.Sandbox.Store;

/// <summary>One field-level problem, reported in a Status's details.causes like the API server does.</summary>
internal sealed record StatusCause(string Reason, string Field, string Message);

/// <summary>
/// An error the API answers with a <c>Status</c> object (kind Status, apiVersion v1, code, reason, message, details).
/// </summary>
internal sealed class ApiException(int code, string reason, string message) : Exception(message)
{
    public int Code { get; } = code;
    public string Reason { get; } = reason;
    public string? DetailsName { get; init; }
    public string? DetailsGroup { get; init; }
    public string? DetailsKind { get; init; }
    public IReadOnlyList<StatusCause> Causes { get; init; } = [];

    public JsonObject ToStatus()
    {
        var status = new JsonObject
        {
            ["kind"] = "Status",
            ["apiVersion"] = "v1",
            ["metadata"] = new JsonObject(),
            ["status"] = "Failure",
            ["message"] = Message,
            ["reason"] = Reason,
            ["code"] = Code,
        };
        if (DetailsName is not null || DetailsKind is not null || Causes.Count > 0)
        {
            var details = new JsonObject();
            if (DetailsName is not null)
            {
                details["name"] = DetailsName;
            }

            if (DetailsGroup is not null)
            {
                details["group"] = DetailsGroup;
            }

            if (DetailsKind is not null)
            {
                details["kind"] = DetailsKind;
            }

            if (Causes.Count > 0)
            {
                details["causes"] = Json.Array(Causes.Select(c => (JsonNode)new JsonObject { ["reason"] = c.Reason, ["message"] = c.Message, ["field"] = c.Field }));
            }

            status["details"] = details;
        }
        return status;
    }

    private static string Qualified(ResourceType t) => t.Group.Length == 0 ? t.Plural : $"{t.Plural}.{t.Group}";

    public static ApiException NotFound(ResourceType t, string name) =>
        new(404, "NotFound", $"{Qualified(t)} \"{name}\" not found") { DetailsName = name, DetailsGroup = t.Group, DetailsKind = t.Plural };

    public static ApiException AlreadyExists(ResourceType t, string name) =>
        new(409, "AlreadyExists", $"{Qualified(t)} \"{name}\" already exists") { DetailsName = name, DetailsGroup = t.Group, DetailsKind = t.Plural };

    public static ApiException Conflict(ResourceType t, string name, string why) =>
        new(409, "Conflict", $"Operation cannot be fulfilled on {Qualified(t)} \"{name}\": {why}") { DetailsName = name, DetailsGroup = t.Group, DetailsKind = t.Plural };

    public static ApiException Invalid(ResourceType t, string name, IReadOnlyList<StatusCause> causes) =>
        new(422, "Invalid", $"{t.Kind} \"{name}\" is invalid: " + string.Join(", ", causes.Select(c => $"{c.Field}: {c.Message}")))
        { DetailsName = name, DetailsGroup = t.Group, DetailsKind = t.Kind, Causes = causes };

    public static ApiException BadRequest(string message) => new(400, "BadRequest", message);

    public static ApiException Expired(string message) => new(410, "Expired", message);

    public static ApiException Forbidden(string message) => new(403, "Forbidden", message);

    public static ApiException MethodNotAllowed(string message) => new(405, "MethodNotAllowed", message);

    public static ApiException UnsupportedMediaType(string contentType) =>
        new(415, "UnsupportedMediaType", $"the body of the request was in an unknown format - accepted media types include: application/json, application/merge-patch+json, application/strategic-merge-patch+json, application/json-patch+json; got \"{contentType}\"");

    public static ApiException NotFoundPath(string path) => new(404, "NotFound", $"the server could not find the requested resource (path {path})");
}
