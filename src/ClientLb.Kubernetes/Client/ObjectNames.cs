using System.Buffers;
using System.Text.Json;

namespace ClientLb.Kubernetes.Client;

/// <summary>
/// Reads the event type and the object's namespace, name and resourceVersion from a watch line without decoding the
/// object, for messages about a line that could not be used (too large, wrong types) and to move past it.
/// </summary>
internal static class ObjectNames
{
    /// <summary>What an event line says of itself.</summary>
    public readonly record struct Identity(string? Type, string? Namespace, string? Name, string? ResourceVersion)
    {
        public string Describe() => Name is null ? "an object whose name was not read" : $"object {Namespace ?? "?"}/{Name}";
    }

    /// <summary>
    /// The identity in a complete line. Throws <see cref="JsonException"/> when the line is not valid JSON (a truncated
    /// or garbled line, as opposed to valid JSON with the wrong types).
    /// </summary>
    public static Identity Read(ReadOnlySequence<byte> line)
    {
        var reader = new Utf8JsonReader(line, isFinalBlock: true, default);
        try
        {
            Identity identity = Scan(ref reader, stopWhenNamed: false);
            // Scan stops at the end of the top-level object; anything after it is malformed too.
            while (reader.Read())
            {
            }
            return identity;
        }
        catch (InvalidOperationException ex)
        {
            // GetString on text that is not valid UTF-8 (found by afl++): malformed input, like any other JSON error.
            throw new JsonException("a name or value is not valid UTF-8", ex);
        }
    }

    /// <summary>The object named in the first part of a line that is not complete (an event larger than the limit).</summary>
    public static string Peek(ReadOnlySequence<byte> start)
    {
        try
        {
            var reader = new Utf8JsonReader(start, isFinalBlock: false, default);
            return Scan(ref reader, stopWhenNamed: true).Describe();
        }
        catch (Exception ex) when (ex is JsonException or InvalidOperationException)
        {
            return "an object whose name was not read";
        }
    }

    private static Identity Scan(ref Utf8JsonReader reader, bool stopWhenNamed)
    {
        string? type = null, ns = null, name = null, version = null;
        // The property path to the current value: top-level key, then "object" key, then "metadata" key.
        string? top = null, inObject = null;
        while (reader.Read())
        {
            int depth = reader.CurrentDepth;
            if (reader.TokenType == JsonTokenType.PropertyName)
            {
                if (depth == 1)
                {
                    top = reader.GetString();
                }
                else if (depth == 2 && top == "object")
                {
                    inObject = reader.GetString();
                }
                else if (depth == 3 && top == "object" && inObject == "metadata" && IsIdentityKey(ref reader))
                {
                    string key = reader.GetString()!;
                    if (!reader.Read())
                    {
                        break;
                    }
                    string? value = reader.TokenType == JsonTokenType.String ? reader.GetString() : null;
                    switch (key)
                    {
                        case "name": name = value; break;
                        case "namespace": ns = value; break;
                        default: version = value; break;
                    }
                    if (stopWhenNamed && name is not null && ns is not null)
                    {
                        break;
                    }
                }
            }
            else if (depth == 1 && top == "type" && reader.TokenType == JsonTokenType.String)
            {
                type = reader.GetString();
            }
            else if (depth == 0 && reader.TokenType == JsonTokenType.EndObject)
            {
                break;
            }
            else if (depth == 0 && reader.TokenType != JsonTokenType.StartObject)
            {
                throw new JsonException("the line is not a JSON object");
            }
        }
        return new Identity(type, ns, name, version);
    }

    private static bool IsIdentityKey(ref Utf8JsonReader reader) =>
        reader.ValueTextEquals("name"u8) || reader.ValueTextEquals("namespace"u8) || reader.ValueTextEquals("resourceVersion"u8);
}
