using System.Text.Json;
using System.Text.Json.Serialization;

namespace ClientLb.Kubernetes.Model;

/// <summary>
/// Reads a string that takes few distinct values across objects (a namespace, <c>IPv4</c>, a port name such as
/// <c>http</c>, <c>TCP</c>, <c>ClusterIP</c>, <c>None</c>) as one shared string per value (<see cref="Utf8Names"/>), so a
/// watch keeping thousands of Services and slices holds each once rather than once per object.
/// </summary>
internal sealed class SharedNameConverter : JsonConverter<string>
{
    private static readonly Utf8Names Names = new();

    public override string Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) =>
        reader.TokenType == JsonTokenType.String ? Names.Get(ref reader) : throw new JsonException($"expected a string, found {reader.TokenType}");

    public override void Write(Utf8JsonWriter writer, string value, JsonSerializerOptions options) => writer.WriteStringValue(value);
}
