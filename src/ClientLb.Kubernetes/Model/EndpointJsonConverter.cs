using System.Text.Json;
using System.Text.Json.Serialization;

namespace ClientLb.Kubernetes.Model;

/// <summary>
/// Reads and writes one EndpointSlice endpoint by hand: a slice event is mostly its endpoints, and this reads each
/// straight from the UTF-8 tokens (no per-property metadata lookups), skips what ClientLb does not use (targetRef,
/// deprecatedTopology) and shares one string per node and zone name (<see cref="Utf8Names"/>). Values of the wrong JSON
/// type throw <see cref="JsonException"/>, so the event is skipped as poison like any other undecodable object.
/// </summary>
internal sealed class EndpointJsonConverter : JsonConverter<Endpoint>
{
    private static readonly Utf8Names Names = new();

    public override Endpoint Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options)
    {
        Expect(ref reader, JsonTokenType.StartObject, "an endpoint");
        var endpoint = new Endpoint();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("addresses"u8))
            {
                reader.Read();
                ReadAddresses(ref reader, endpoint);
            }
            else if (reader.ValueTextEquals("conditions"u8))
            {
                reader.Read();
                endpoint.Conditions = ReadConditions(ref reader);
            }
            else if (reader.ValueTextEquals("nodeName"u8))
            {
                reader.Read();
                endpoint.NodeName = reader.TokenType == JsonTokenType.String ? Names.Get(ref reader) : ReadString(ref reader, "nodeName");
            }
            else if (reader.ValueTextEquals("zone"u8))
            {
                reader.Read();
                endpoint.Zone = reader.TokenType == JsonTokenType.String ? Names.Get(ref reader) : ReadString(ref reader, "zone");
            }
            else if (reader.ValueTextEquals("hostname"u8))
            {
                reader.Read();
                endpoint.Hostname = ReadString(ref reader, "hostname");
            }
            else if (reader.ValueTextEquals("hints"u8))
            {
                reader.Read();
                endpoint.Hints = JsonSerializer.Deserialize(ref reader, KubernetesJsonContext.Default.EndpointHints);
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        Expect(ref reader, JsonTokenType.EndObject, "the end of an endpoint");
        return endpoint;
    }

    // addresses: null or a null address is noted, not thrown: the watch skips such an endpoint's slice as poison, naming it.
    private static void ReadAddresses(ref Utf8JsonReader reader, Endpoint endpoint)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            endpoint.AddressProblem = AddressesNull;
            return;
        }
        Expect(ref reader, JsonTokenType.StartArray, "addresses");
        List<string>? others = null; // nearly always none
        bool first = true;
        while (reader.Read() && reader.TokenType != JsonTokenType.EndArray)
        {
            string? address = ReadString(ref reader, "an address");
            if (address is null)
            {
                endpoint.AddressProblem ??= NullAddress;
            }
            if (first)
            {
                endpoint.Address = address;
                first = false;
            }
            else
            {
                (others ??= []).Add(address!);
            }
        }
        endpoint.OtherAddresses = others?.ToArray();
    }

    /// <summary>The <see cref="Endpoint.AddressProblem"/> of <c>addresses: null</c>.</summary>
    internal const string AddressesNull = "has addresses: null";

    /// <summary>The <see cref="Endpoint.AddressProblem"/> of an address list holding null.</summary>
    internal const string NullAddress = "has a null address";

    private static EndpointConditions? ReadConditions(ref Utf8JsonReader reader)
    {
        if (reader.TokenType == JsonTokenType.Null)
        {
            return null;
        }
        Expect(ref reader, JsonTokenType.StartObject, "conditions");
        var conditions = new EndpointConditions();
        while (reader.Read() && reader.TokenType == JsonTokenType.PropertyName)
        {
            if (reader.ValueTextEquals("ready"u8))
            {
                reader.Read();
                conditions.Ready = ReadBool(ref reader, "conditions.ready");
            }
            else if (reader.ValueTextEquals("serving"u8))
            {
                reader.Read();
                conditions.Serving = ReadBool(ref reader, "conditions.serving");
            }
            else if (reader.ValueTextEquals("terminating"u8))
            {
                reader.Read();
                conditions.Terminating = ReadBool(ref reader, "conditions.terminating");
            }
            else
            {
                reader.Read();
                reader.Skip();
            }
        }
        Expect(ref reader, JsonTokenType.EndObject, "the end of conditions");
        return conditions;
    }

    private static bool? ReadBool(ref Utf8JsonReader reader, string what) => reader.TokenType switch
    {
        JsonTokenType.True => true,
        JsonTokenType.False => false,
        JsonTokenType.Null => null,
        JsonTokenType other => throw new JsonException($"{what} must be true, false or null, not {other}"),
    };

    private static string? ReadString(ref Utf8JsonReader reader, string what) => reader.TokenType switch
    {
        JsonTokenType.String => reader.GetString(),
        JsonTokenType.Null => null,
        JsonTokenType other => throw new JsonException($"{what} must be a string, not {other}"),
    };

    private static void Expect(ref Utf8JsonReader reader, JsonTokenType type, string what)
    {
        if (reader.TokenType != type)
        {
            throw new JsonException($"expected {what} ({type}), found {reader.TokenType}");
        }
    }

    public override void Write(Utf8JsonWriter writer, Endpoint value, JsonSerializerOptions options)
    {
        writer.WriteStartObject();
        if (value.AddressProblem is null)
        {
            writer.WriteStartArray("addresses"u8);
            if (value.Address is string first)
            {
                writer.WriteStringValue(first);
            }
            foreach (string address in value.OtherAddresses ?? [])
            {
                writer.WriteStringValue(address);
            }
            writer.WriteEndArray();
        }
        else
        {
            writer.WriteNull("addresses"u8); // only an unusable list has a problem; such a slice is never kept
        }
        if (value.Conditions is { } conditions)
        {
            writer.WriteStartObject("conditions"u8);
            WriteBool(writer, "ready"u8, conditions.Ready);
            WriteBool(writer, "serving"u8, conditions.Serving);
            WriteBool(writer, "terminating"u8, conditions.Terminating);
            writer.WriteEndObject();
        }
        WriteString(writer, "hostname"u8, value.Hostname);
        WriteString(writer, "nodeName"u8, value.NodeName);
        WriteString(writer, "zone"u8, value.Zone);
        if (value.Hints is { } hints)
        {
            writer.WritePropertyName("hints"u8);
            JsonSerializer.Serialize(writer, hints, KubernetesJsonContext.Default.EndpointHints);
        }
        writer.WriteEndObject();
    }

    private static void WriteBool(Utf8JsonWriter writer, ReadOnlySpan<byte> name, bool? value)
    {
        if (value is bool set)
        {
            writer.WriteBoolean(name, set);
        }
    }

    private static void WriteString(Utf8JsonWriter writer, ReadOnlySpan<byte> name, string? value)
    {
        if (value is not null)
        {
            writer.WriteString(name, value);
        }
    }
}
