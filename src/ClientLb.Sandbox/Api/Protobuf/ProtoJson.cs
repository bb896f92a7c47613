using System.Collections;
using System.Globalization;
using System.Text.Json;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Store;
using Google.Protobuf;
using Google.Protobuf.Reflection;
using K8S.Io.Apimachinery.Pkg.Apis.Meta.V1;
using K8S.Io.Apimachinery.Pkg.Runtime;
using K8S.Io.Apimachinery.Pkg.Util.Intstr;

namespace ClientLb.Sandbox.Api.Protobuf;

/// <summary>
/// Converts between the upstream protobuf messages and the JSON the store keeps, walking the message descriptors.
/// Field names are the JSON names (go-to-protobuf names proto fields after the json tags). The special types are
/// written as Go's JSON writes them: Time and MicroTime as RFC 3339, IntOrString as a number or a string, Quantity
/// as a string, RawExtension and FieldsV1 as embedded JSON; zero values and inlined messages follow <see cref="GoFields"/>.
/// </summary>
internal static class ProtoJson
{
    private const string Meta = "k8s.io.apimachinery.pkg.apis.meta.v1.";
    private const string TimeName = Meta + "Time", MicroTimeName = Meta + "MicroTime", FieldsV1Name = Meta + "FieldsV1", DurationName = Meta + "Duration";
    private const string IntOrStringName = "k8s.io.apimachinery.pkg.util.intstr.IntOrString";
    private const string QuantityName = "k8s.io.apimachinery.pkg.api.resource.Quantity";
    private const string RawExtensionName = "k8s.io.apimachinery.pkg.runtime.RawExtension";

    // ---- protobuf -> JSON (request bodies)

    /// <summary>The JSON object of a message (without apiVersion/kind, which travel in the envelope).</summary>
    public static JsonObject ToJson(IMessage message, string path = "")
    {
        var o = new JsonObject();
        WriteFields(message, o, path);
        return o;
    }

    private static void WriteFields(IMessage m, JsonObject o, string path)
    {
        foreach (FieldDescriptor? f in m.Descriptor.Fields.InFieldNumberOrder())
        {
            string at = Join(path, f.Name);
            if (f.IsMap)
            {
                var map = (IDictionary)f.Accessor.GetValue(m);
                if (map.Count == 0)
                {
                    continue;
                }

                FieldDescriptor valueField = f.MessageType.FindFieldByNumber(2);
                var mo = new JsonObject();
                foreach (DictionaryEntry e in map)
                {
                    mo[(string)e.Key] = ValueToJson(valueField, e.Value!, $"{at}[{e.Key}]");
                }

                o[f.Name] = mo;
                continue;
            }
            if (f.IsRepeated)
            {
                var list = (IList)f.Accessor.GetValue(m);
                if (list.Count == 0)
                {
                    continue;
                }

                var a = new JsonArray();
                for (int i = 0; i < list.Count; i++)
                {
                    a.Add(ValueToJson(f, list[i]!, $"{at}[{i}]"));
                }

                o[f.Name] = a;
                continue;
            }
            if (!f.Accessor.HasValue(m))
            {
                continue;
            }

            object value = f.Accessor.GetValue(m);
            if (f.FieldType == FieldType.Message)
            {
                var sub = (IMessage)value;
                if (GoFields.IsInline(f.FullName)) { WriteFields(sub, o, path); continue; }
                if (IsZeroSpecial(sub) && !GoFields.IsPointer(f.FullName))
                {
                    continue;
                }
            }
            else if (IsZeroScalar(value) && !GoFields.KeepsZero(f.FullName))
            {
                continue;
            }

            o[f.Name] = ValueToJson(f, value, at);
        }
    }

    private static JsonNode? ValueToJson(FieldDescriptor f, object value, string path)
    {
        switch (f.FieldType)
        {
            case FieldType.String: return JsonValue.Create((string)value);
            case FieldType.Bool: return JsonValue.Create((bool)value);
            case FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32: return JsonValue.Create((long)(int)value); // one CLR type for every JSON integer
            case FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64: return JsonValue.Create((long)value);
            case FieldType.UInt32 or FieldType.Fixed32: return JsonValue.Create((long)(uint)value);
            case FieldType.UInt64 or FieldType.Fixed64: return JsonValue.Create((ulong)value);
            case FieldType.Double: return JsonValue.Create((double)value);
            case FieldType.Float: return JsonValue.Create((float)value);
            case FieldType.Bytes: return JsonValue.Create(((ByteString)value).ToBase64());
            case FieldType.Message: return MessageToJson((IMessage)value, path);
            default: throw ApiException.BadRequest($"{path}: protobuf field type {f.FieldType} is not used by the Kubernetes API");
        }
    }

    private static JsonNode? MessageToJson(IMessage m, string path)
    {
        switch (m)
        {
            case Time t:
                return t.HasSeconds ? JsonValue.Create(Json.Timestamp(FromUnix(t.Seconds, 0, path))) : null;
            case MicroTime t:
                return t.HasSeconds || t.HasNanos
                    ? JsonValue.Create(FromUnix(t.Seconds, t.Nanos, path).UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.ffffff'Z'", CultureInfo.InvariantCulture))
                    : null;
            case IntOrString v:
                return v.Type switch
                {
                    0 => JsonValue.Create((long)v.IntVal),
                    1 => JsonValue.Create(v.StrVal),
                    var other => throw ApiException.BadRequest($"{path}: IntOrString type {other} is neither 0 (int) nor 1 (string)"),
                };
            case K8S.Io.Apimachinery.Pkg.Api.Resource.Quantity q:
                return JsonValue.Create(q.String);
            case RawExtension r:
                return r.Raw.IsEmpty ? null : EmbeddedToJson(r.Raw.Span, path);
            case FieldsV1 fields:
                return fields.Raw.IsEmpty ? null : EmbeddedToJson(fields.Raw.Span, path);
        }
        if (m.Descriptor.FullName == DurationName)
        {
            throw ApiException.BadRequest($"{path}: metav1.Duration is not used by any kind the sandbox serves");
        }

        return ToJson(m, path);
    }

    /// <summary>RawExtension and FieldsV1 hold JSON, or (for RawExtension) a protobuf envelope of their own.</summary>
    private static JsonNode EmbeddedToJson(ReadOnlySpan<byte> raw, string path)
    {
        if (KubeProtobuf.HasEnvelopePrefix(raw))
        {
            return KubeProtobuf.Decode(raw, path);
        }

        try { return JsonNode.Parse(raw) ?? throw ApiException.BadRequest($"{path}: the embedded object is JSON null"); }
        catch (JsonException ex) { throw ApiException.BadRequest($"{path}: the embedded object is neither JSON nor a k8s protobuf envelope: {ex.Message}"); }
    }

    private static DateTimeOffset FromUnix(long seconds, int nanos, string path)
    {
        try { return DateTimeOffset.FromUnixTimeSeconds(seconds).AddTicks(nanos / 100); }
        catch (ArgumentOutOfRangeException) { throw ApiException.BadRequest($"{path}: timestamp {seconds}s is out of range"); }
    }

    private static bool IsZeroScalar(object value) => value switch
    {
        string s => s.Length == 0,
        bool b => !b,
        int i => i == 0,
        long l => l == 0,
        uint u => u == 0,
        ulong u => u == 0,
        double d => d == 0,
        float f => f == 0,
        ByteString bytes => bytes.IsEmpty,
        _ => false,
    };

    /// <summary>The zero of a value-typed special (a Go zero Time, a 0 IntOrString) that Go's JSON leaves out.</summary>
    private static bool IsZeroSpecial(IMessage m) => m switch
    {
        Time t => !t.HasSeconds,
        MicroTime t => !t.HasSeconds && !t.HasNanos,
        IntOrString v => v.Type == 0 && v.IntVal == 0,
        RawExtension r => r.Raw.IsEmpty,
        FieldsV1 f => f.Raw.IsEmpty,
        _ => false,
    };

    // ---- JSON -> protobuf (responses)

    /// <summary>Fills <paramref name="target"/> from a JSON object; apiVersion/kind (TypeMeta) have no field: they go in the envelope, or nowhere (list items).</summary>
    public static void FromJson(JsonObject o, IMessage target, string path)
    {
        foreach ((string? name, JsonNode? node) in o)
        {
            if (node is null)
            {
                continue;
            }

            if (name is "apiVersion" or "kind" && target.Descriptor.FindFieldByName(name) is null)
            {
                continue;
            }

            if (!TrySet(target, name, node, Join(path, name)))
            {
                throw new InvalidOperationException($"{Join(path, name)}: {target.Descriptor.FullName} has no field \"{name}\"");
            }
        }
    }

    private static bool TrySet(IMessage m, string name, JsonNode node, string path)
    {
        FieldDescriptor? f = m.Descriptor.FindFieldByName(name);
        if (f is null || GoFields.IsInline(f.FullName))
        {
            foreach (FieldDescriptor? inline in m.Descriptor.Fields.InFieldNumberOrder())
            {
                if (inline.FieldType != FieldType.Message || !GoFields.IsInline(inline.FullName) || !Accepts(inline.MessageType, name))
                {
                    continue;
                }

                IMessage sub = (IMessage?)inline.Accessor.GetValue(m) ?? New(inline.MessageType);
                TrySet(sub, name, node, path);
                inline.Accessor.SetValue(m, sub);
                return true;
            }
            return false;
        }
        if (f.IsMap)
        {
            var map = (IDictionary)f.Accessor.GetValue(m);
            FieldDescriptor valueField = f.MessageType.FindFieldByNumber(2);
            foreach ((string? key, JsonNode? value) in Expect<JsonObject>(node, path, "an object"))
            {
                map[key] = JsonToValue(valueField, value ?? throw new InvalidOperationException($"{path}[{key}]: null map value"), $"{path}[{key}]");
            }
        }
        else if (f.IsRepeated)
        {
            var list = (IList)f.Accessor.GetValue(m);
            int i = 0;
            foreach (JsonNode? item in Expect<JsonArray>(node, path, "an array"))
            {
                list.Add(JsonToValue(f, item ?? throw new InvalidOperationException($"{path}[{i}]: null array item"), $"{path}[{i}]"));
                i++;
            }
        }
        else
        {
            f.Accessor.SetValue(m, JsonToValue(f, node, path));
        }

        return true;
    }

    private static bool Accepts(MessageDescriptor d, string name) =>
        d.FindFieldByName(name) is { } f && !GoFields.IsInline(f.FullName)
        || d.Fields.InFieldNumberOrder().Any(x => x.FieldType == FieldType.Message && GoFields.IsInline(x.FullName) && Accepts(x.MessageType, name));

    private static object JsonToValue(FieldDescriptor f, JsonNode node, string path)
    {
        switch (f.FieldType)
        {
            case FieldType.String: return Scalar<string>(node, path, "a string");
            case FieldType.Bool: return Scalar<bool>(node, path, "a boolean");
            case FieldType.Int32 or FieldType.SInt32 or FieldType.SFixed32: return checked((int)Integer(node, path));
            case FieldType.Int64 or FieldType.SInt64 or FieldType.SFixed64: return Integer(node, path);
            case FieldType.Double: return Scalar<double>(node, path, "a number");
            case FieldType.Bytes: return ByteString.FromBase64(Scalar<string>(node, path, "a base64 string"));
            case FieldType.Message: return JsonToMessage(f.MessageType, node, path);
            default: throw new InvalidOperationException($"{path}: protobuf field type {f.FieldType} is not used by the Kubernetes API");
        }
    }

    private static IMessage JsonToMessage(MessageDescriptor d, JsonNode node, string path)
    {
        switch (d.FullName)
        {
            case TimeName:
                return new Time { Seconds = ParseTime(node, path).ToUnixTimeSeconds() };
            case MicroTimeName:
                DateTimeOffset micro = ParseTime(node, path);
                return new MicroTime { Seconds = micro.ToUnixTimeSeconds(), Nanos = (int)(micro.UtcTicks % TimeSpan.TicksPerSecond) * 100 };
            case IntOrStringName:
                return node.GetValueKind() == JsonValueKind.String
                    ? new IntOrString { Type = 1, StrVal = node.GetValue<string>() }
                    : new IntOrString { Type = 0, IntVal = checked((int)Integer(node, path)) };
            case QuantityName:
                return new K8S.Io.Apimachinery.Pkg.Api.Resource.Quantity { String = node.GetValueKind() == JsonValueKind.Number ? node.ToJsonString() : Scalar<string>(node, path, "a quantity string") };
            case RawExtensionName:
                return new RawExtension { Raw = ByteString.CopyFrom(Json.ToUtf8(node)) };
            case FieldsV1Name:
                return new FieldsV1 { Raw = ByteString.CopyFrom(Json.ToUtf8(node)) };
            case DurationName:
                throw new InvalidOperationException($"{path}: metav1.Duration is not used by any kind the sandbox serves");
        }
        IMessage m = New(d);
        FromJson(Expect<JsonObject>(node, path, "an object"), m, path);
        return m;
    }

    private static DateTimeOffset ParseTime(JsonNode node, string path)
    {
        string s = Scalar<string>(node, path, "an RFC 3339 time");
        return DateTimeOffset.TryParse(s, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset t)
            ? t
            : throw new InvalidOperationException($"{path}: \"{s}\" is not an RFC 3339 time");
    }

    private static long Integer(JsonNode node, string path) =>
        Json.AsLong(node) ?? throw new InvalidOperationException($"{path}: expected an integer, got {node.ToJsonString()}");

    private static T Scalar<T>(JsonNode node, string path, string what) =>
        node is JsonValue v && v.TryGetValue<T>(out T? value) ? value : throw new InvalidOperationException($"{path}: expected {what}, got {node.ToJsonString()}");

    private static T Expect<T>(JsonNode node, string path, string what) where T : JsonNode =>
        node as T ?? throw new InvalidOperationException($"{path}: expected {what}, got {node.ToJsonString()}");

    public static IMessage New(MessageDescriptor d) => d.Parser.ParseFrom(ByteString.Empty);

    private static string Join(string path, string name) => path.Length == 0 ? name : $"{path}.{name}";
}
