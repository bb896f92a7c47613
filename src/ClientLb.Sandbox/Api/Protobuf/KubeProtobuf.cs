using System.Buffers.Binary;
using System.Collections.Frozen;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using K8S.Io.Apimachinery.Pkg.Runtime;

namespace ClientLb.Sandbox.Api.Protobuf;

/// <summary>
/// The API server's protobuf encoding (application/vnd.kubernetes.protobuf): the 4-byte magic "k8s\0", then a
/// runtime.Unknown carrying the typeMeta (apiVersion, kind) and the object's message in raw. Watch streams are
/// length-delimited frames (4-byte big-endian length) of metav1.WatchEvent whose object is such an envelope.
/// </summary>
internal static class KubeProtobuf
{
    public const string MediaType = "application/vnd.kubernetes.protobuf";
    public const string WatchMediaType = MediaType + ";stream=watch";
    private static ReadOnlySpan<byte> Prefix => "k8s\0"u8;

    /// <summary>The upstream files whose messages each apiVersion's kinds are; meta/v1 (Status, DeleteOptions, ...) is registered in every group version.</summary>
    private static readonly FrozenDictionary<string, FileDescriptor> Files = new Dictionary<string, FileDescriptor>
    {
        ["v1"] = K8S.Io.Api.Core.V1.GeneratedReflection.Descriptor,
        ["apps/v1"] = K8S.Io.Api.Apps.V1.GeneratedReflection.Descriptor,
        ["discovery.k8s.io/v1"] = K8S.Io.Api.Discovery.V1.GeneratedReflection.Descriptor,
        ["autoscaling/v1"] = K8S.Io.Api.Autoscaling.V1.GeneratedReflection.Descriptor,
        ["batch/v1"] = K8S.Io.Api.Batch.V1.GeneratedReflection.Descriptor,
        ["authorization.k8s.io/v1"] = K8S.Io.Api.Authorization.V1.GeneratedReflection.Descriptor,
        ["meta.k8s.io/v1"] = K8S.Io.Apimachinery.Pkg.Apis.Meta.V1.GeneratedReflection.Descriptor,
    }.ToFrozenDictionary(StringComparer.Ordinal);

    /// <summary>The message of a kind, or null when the sandbox has no protobuf message for it.</summary>
    public static MessageDescriptor? Find(string apiVersion, string kind)
    {
        if (Files.TryGetValue(apiVersion, out FileDescriptor? file) && file.MessageTypes.FirstOrDefault(m => m.Name == kind) is { } own)
        {
            return own;
        }

        return IsMetaKind(kind) && (Files.ContainsKey(apiVersion) || ResourceTypes.GroupVersions.Contains(apiVersion))
            ? K8S.Io.Apimachinery.Pkg.Apis.Meta.V1.GeneratedReflection.Descriptor.MessageTypes.FirstOrDefault(m => m.Name == kind)
            : null;
    }

    /// <summary>The meta/v1 kinds that every group version serves (upstream's metav1.AddToGroupVersion).</summary>
    private static bool IsMetaKind(string kind) => kind is "Status" or "DeleteOptions" or "WatchEvent" or "ListOptions" or "GetOptions" or "CreateOptions" or "UpdateOptions" or "PatchOptions";

    public static bool CanEncode(JsonObject obj) => obj.Str("apiVersion") is { } v && obj.Str("kind") is { } k && Find(v, k) is not null;

    public static bool HasEnvelopePrefix(ReadOnlySpan<byte> data) => data.StartsWith(Prefix);

    /// <summary>The envelope of a JSON object that carries apiVersion and kind.</summary>
    public static byte[] Encode(JsonObject obj)
    {
        string apiVersion = obj.Str("apiVersion") ?? throw new InvalidOperationException("cannot encode an object without apiVersion as protobuf");
        string kind = obj.Str("kind") ?? throw new InvalidOperationException("cannot encode an object without kind as protobuf");
        MessageDescriptor descriptor = Find(apiVersion, kind) ?? throw new ApiException(406, "NotAcceptable", $"{apiVersion}, Kind={kind} has no protobuf encoding in the sandbox; accept application/json");
        IMessage message = ProtoJson.New(descriptor);
        ProtoJson.FromJson(obj, message, "");
        var unknown = new Unknown
        {
            TypeMeta = new K8S.Io.Apimachinery.Pkg.Runtime.TypeMeta { ApiVersion = apiVersion, Kind = kind },
            Raw = message.ToByteString(),
            ContentEncoding = "",
            ContentType = "",
        };
        byte[] body = new byte[Prefix.Length + unknown.CalculateSize()];
        Prefix.CopyTo(body);
        unknown.WriteTo(body.AsSpan(Prefix.Length));
        return body;
    }

    /// <summary>Decodes an envelope into the JSON object the store keeps; every fault is a 400 naming <paramref name="what"/> and the cause.</summary>
    public static JsonObject Decode(ReadOnlySpan<byte> data, string what)
    {
        if (data.Length == 0)
        {
            throw ApiException.BadRequest($"{what}: the protobuf body is empty");
        }

        if (!HasEnvelopePrefix(data))
        {
            throw ApiException.BadRequest($"{what}: the body does not appear to be a protobuf message: it does not start with the \"k8s\\0\" envelope prefix (6b 38 73 00)");
        }

        if (data.Length == Prefix.Length)
        {
            throw ApiException.BadRequest($"{what}: the protobuf envelope is empty after the \"k8s\\0\" prefix");
        }

        Unknown unknown;
        try { unknown = Unknown.Parser.ParseFrom(data[Prefix.Length..]); }
        catch (InvalidProtocolBufferException ex) { throw ApiException.BadRequest($"{what}: the protobuf envelope (runtime.Unknown) is malformed: {ex.Message}"); }
        string apiVersion = unknown.TypeMeta?.ApiVersion ?? "";
        string kind = unknown.TypeMeta?.Kind ?? "";
        if (kind.Length == 0)
        {
            throw ApiException.BadRequest($"{what}: Object 'Kind' is missing in the protobuf envelope's typeMeta");
        }

        if (apiVersion.Length == 0)
        {
            throw ApiException.BadRequest($"{what}: Object 'apiVersion' is missing in the protobuf envelope's typeMeta");
        }

        if (unknown.ContentEncoding.Length > 0)
        {
            throw ApiException.BadRequest($"{what}: contentEncoding \"{unknown.ContentEncoding}\" is not supported (only the identity encoding)");
        }

        MessageDescriptor descriptor = Find(apiVersion, kind) ?? throw ApiException.BadRequest($"{what}: no kind \"{kind}\" is registered for version \"{apiVersion}\"");
        IMessage message;
        try { message = descriptor.Parser.ParseFrom(unknown.Raw); }
        catch (InvalidProtocolBufferException ex) { throw ApiException.BadRequest($"{what}: the {kind} message ({descriptor.FullName}) is malformed: {ex.Message}"); }
        JsonObject body = ProtoJson.ToJson(message);
        var obj = new JsonObject { ["kind"] = kind, ["apiVersion"] = apiVersion };
        foreach ((string? name, JsonNode? value) in body.ToList())
        {
            body.Remove(name);
            obj[name] = value;
        }
        return obj;
    }

    /// <summary>One frame of a protobuf watch stream: the length, then a WatchEvent whose object is the envelope of <paramref name="obj"/>.</summary>
    public static byte[] EncodeWatchFrame(string type, JsonObject obj)
    {
        var e = new K8S.Io.Apimachinery.Pkg.Apis.Meta.V1.WatchEvent { Type = type, Object = new RawExtension { Raw = ByteString.CopyFrom(Encode(obj)) } };
        byte[] frame = new byte[4 + e.CalculateSize()];
        BinaryPrimitives.WriteUInt32BigEndian(frame, (uint)(frame.Length - 4));
        e.WriteTo(frame.AsSpan(4));
        return frame;
    }
}
