using System.Runtime.CompilerServices;
using System.Text.Json;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Watching;
using Google.Protobuf;

namespace ClientLb.Kubernetes.Node;

/// <summary>
/// The relay's objects on the wire: the API's own JSON of a Service or an EndpointSlice, so both ends decode them with
/// the same model and the SDK maps them with the same code as from its own watch. Each object is encoded once however
/// many streams send it.
/// </summary>
internal static class RelayWire
{
    private static readonly ConditionalWeakTable<object, ByteString> Encoded = [];

    public static ByteString Encode(Service service) => Encoded.GetValue(service, static s => ByteString.CopyFrom(JsonSerializer.SerializeToUtf8Bytes((Service)s, KubernetesJsonContext.Default.Service)));

    public static ByteString Encode(EndpointSlice slice) => Encoded.GetValue(slice, static s => ByteString.CopyFrom(JsonSerializer.SerializeToUtf8Bytes((EndpointSlice)s, KubernetesJsonContext.Default.EndpointSlice)));

    /// <exception cref="InvalidDataException">The bytes are not a Service.</exception>
    public static Service DecodeService(ByteString json) =>
        Decode(json, KubernetesJsonContext.Default.Service, "Service");

    /// <exception cref="InvalidDataException">The bytes are not an EndpointSlice.</exception>
    public static EndpointSlice DecodeSlice(ByteString json) =>
        Decode(json, KubernetesJsonContext.Default.EndpointSlice, "EndpointSlice");

    private static T Decode<T>(ByteString json, System.Text.Json.Serialization.Metadata.JsonTypeInfo<T> type, string what)
        where T : class
    {
        try
        {
            return JsonSerializer.Deserialize(json.Span, type) ?? throw new InvalidDataException($"the relay sent a null {what}");
        }
        catch (JsonException ex)
        {
            throw new InvalidDataException($"the relay sent a {what} that is not valid JSON: {ex.Message}", ex);
        }
    }

    /// <summary>The slices of <paramref name="data"/> by name, for diffs.</summary>
    public static Dictionary<string, EndpointSlice> ByName(ServiceSlices data)
    {
        var map = new Dictionary<string, EndpointSlice>(data.Slices.Length, StringComparer.Ordinal);
        foreach (EndpointSlice slice in data.Slices)
        {
            map[slice.Metadata.Name ?? ""] = slice;
        }
        return map;
    }
}
