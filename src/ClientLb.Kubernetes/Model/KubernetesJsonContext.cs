using System.Text.Json.Serialization;

namespace ClientLb.Kubernetes.Model;

/// <summary>Source-generated JSON metadata for the API types (no reflection; trimming and AOT safe).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(KubernetesList<EndpointSlice>))]
[JsonSerializable(typeof(KubernetesList<Service>))]
[JsonSerializable(typeof(WatchEvent<EndpointSlice>))]
[JsonSerializable(typeof(WatchEvent<Service>))]
[JsonSerializable(typeof(WatchEvent<Status>))]
[JsonSerializable(typeof(EndpointSlice))]
[JsonSerializable(typeof(Service))]
[JsonSerializable(typeof(Status))]
[JsonSerializable(typeof(EndpointHints))]
internal sealed partial class KubernetesJsonContext : JsonSerializerContext;
