using System.Globalization;
using System.Text.Json;
using System.Text.Json.Serialization;

namespace ClientLb.Kubernetes.Model;

/// <summary>A Kubernetes int-or-string (e.g. a Service <c>targetPort</c>: <c>8080</c> or <c>http</c>).</summary>
[JsonConverter(typeof(IntOrStringConverter))]
internal sealed record IntOrString
{
    /// <summary>Creates a number.</summary>
    public IntOrString(int value) => Number = value;

    /// <summary>Creates a name.</summary>
    public IntOrString(string value) => Text = value ?? throw new ArgumentNullException(nameof(value));

    /// <summary>The number, when this is one.</summary>
    public int? Number { get; }

    /// <summary>The string, when this is one.</summary>
    public string? Text { get; }

    /// <inheritdoc />
    public override string ToString() => Text ?? Number!.Value.ToString(CultureInfo.InvariantCulture);
}

/// <summary>Reads and writes <see cref="IntOrString"/> as a JSON number or string.</summary>
internal sealed class IntOrStringConverter : JsonConverter<IntOrString>
{
    /// <inheritdoc />
    public override IntOrString Read(ref Utf8JsonReader reader, Type typeToConvert, JsonSerializerOptions options) => reader.TokenType switch
    {
        JsonTokenType.Number => new IntOrString(reader.GetInt32()),
        JsonTokenType.String => new IntOrString(reader.GetString()!),
        _ => throw new JsonException($"expected a number or a string for an int-or-string value, got {reader.TokenType}"),
    };

    /// <inheritdoc />
    public override void Write(Utf8JsonWriter writer, IntOrString value, JsonSerializerOptions options)
    {
        if (value.Text is not null)
        {
            writer.WriteStringValue(value.Text);
        }
        else
        {
            writer.WriteNumberValue(value.Number!.Value);
        }
    }
}
