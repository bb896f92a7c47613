using System.Buffers.Binary;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Api.Protobuf;
using ClientLb.Sandbox.Store;
using ClientLb.Sandbox.Tests.Infrastructure;
using Google.Protobuf;

namespace ClientLb.Sandbox.Tests.Protobuf;

/// <summary>JSON -> protobuf envelope -> JSON gives back the same object, for every kind the sandbox serves.</summary>
public class ProtobufRoundTripTests
{
    private static JsonObject Parse(string json) => JsonNode.Parse(json)!.AsObject();

    private static void AssertRoundTrip(JsonObject original)
    {
        JsonObject back = KubeProtobuf.Decode(KubeProtobuf.Encode(original), "test");
        Assert.True(JsonNode.DeepEquals(original, back), $"expected {original.ToJsonString()}\n     got {back.ToJsonString()}");
    }

    [Fact]
    public async Task Every_stored_object_of_a_running_cluster_round_trips()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await cluster.ApplyManifestAsync(Infrastructure.Manifests.Seed);
        await cluster.WaitForReadyEndpointsAsync("my-service", 2, cancellationToken: Deadline.In());
        await cluster.WaitUntilAsync(c => c.GetAsync("apps/v1", "Deployment", "my-app").Result.L("status", "readyReplicas") == 2, Deadline.In());
        // A Job whose image the sandbox cannot run: failed at once, with its conditions and a terminated pod.
        await cluster.ApplyManifestAsync("""
            apiVersion: batch/v1
            kind: Job
            metadata: {name: once}
            spec: {template: {spec: {restartPolicy: Never, containers: [{name: c, image: busybox, args: [echo, hi]}]}}}
            """);
        await cluster.WaitUntilAsync(c => c.GetAsync("batch/v1", "Job", "once").Result.Arr("status", "conditions").Any(x => x.S("type") == "Failed"), Deadline.In());
        var kinds = new List<string>();
        foreach (ResourceType t in ResourceTypes.All)
        {
            if (KubeProtobuf.Find(t.ApiVersion, t.Kind) is null)
            {
                continue; // kinds without upstream messages here are served as JSON
            }

            IReadOnlyList<JsonObject> items = await cluster.ListAsync(t.ApiVersion, t.Kind, ns: null);
            foreach (JsonObject item in items)
            {
                AssertRoundTrip(item);
            }

            if (items.Count > 0)
            {
                kinds.Add(t.Kind);
            }
        }
        Assert.Superset(new HashSet<string> { "Namespace", "Node", "Service", "Pod", "Deployment", "EndpointSlice", "Endpoints", "Job" }, kinds.ToHashSet());
    }

    [Fact]
    public void Special_types_inlined_messages_and_kept_zeros_round_trip()
    {
        // IntOrString as a name and a percentage, Quantity, Time, inlined VolumeSource and ProbeHandler,
        // pointer zeros (replicas: 0, terminationGracePeriodSeconds: 0) and false booleans that Go keeps.
        AssertRoundTrip(Parse("""
            {"kind":"Deployment","apiVersion":"apps/v1",
             "metadata":{"name":"web","namespace":"default","uid":"u-1","resourceVersion":"7","generation":3,
               "creationTimestamp":"2026-12-06T10:00:00Z","deletionTimestamp":"2026-12-06T10:05:00Z","deletionGracePeriodSeconds":0,
               "labels":{"app":"web"},"annotations":{"a":""},"finalizers":["x/y"],
               "ownerReferences":[{"apiVersion":"v1","kind":"Thing","name":"o","uid":"u-0","controller":false}]},
             "spec":{"replicas":0,"selector":{"matchLabels":{"app":"web"},"matchExpressions":[{"key":"tier","operator":"In","values":["a","b"]}]},
               "strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":"25%","maxSurge":1}},
               "template":{"metadata":{"labels":{"app":"web"}},
                 "spec":{"terminationGracePeriodSeconds":0,"automountServiceAccountToken":false,
                   "containers":[{"name":"c","image":"nginx","ports":[{"name":"http","containerPort":8080,"protocol":"TCP"}],
                     "resources":{"limits":{"cpu":"500m","memory":"128Mi"},"requests":{"cpu":"1"}},
                     "readinessProbe":{"httpGet":{"path":"/healthz","port":"http","scheme":"HTTP"},"periodSeconds":1},
                     "volumeMounts":[{"name":"cfg","mountPath":"/etc/cfg","readOnly":true}]}],
                   "volumes":[{"name":"cfg","configMap":{"name":"settings","optional":false,"defaultMode":420}}]}}},
             "status":{"observedGeneration":3,"replicas":2,"readyReplicas":2,
               "conditions":[{"type":"Available","status":"True","lastUpdateTime":"2026-12-06T10:00:01Z","lastTransitionTime":"2026-12-06T10:00:01Z","reason":"MinimumReplicasAvailable","message":"ok"}]}}
            """));
        AssertRoundTrip(Parse("""
            {"kind":"Service","apiVersion":"v1","metadata":{"name":"s","namespace":"default"},
             "spec":{"type":"ClusterIP","clusterIP":"127.96.0.1","clusterIPs":["127.96.0.1"],"selector":{"app":"web"},
               "ports":[{"name":"http","protocol":"TCP","port":80,"targetPort":"http","appProtocol":"http"},{"name":"grpc","protocol":"TCP","port":81,"targetPort":9000}],
               "sessionAffinity":"ClientIP","sessionAffinityConfig":{"clientIP":{"timeoutSeconds":10800}},"ipFamilies":["IPv4"],"ipFamilyPolicy":"SingleStack"},
             "status":{"loadBalancer":{}}}
            """));
        AssertRoundTrip(Parse("""
            {"kind":"EndpointSlice","apiVersion":"discovery.k8s.io/v1","metadata":{"name":"s-1","namespace":"default","labels":{"kubernetes.io/service-name":"s"}},
             "addressType":"IPv4",
             "endpoints":[{"addresses":["127.244.0.2"],"conditions":{"ready":false,"serving":true,"terminating":false},"nodeName":"n1","zone":"zone-a",
               "targetRef":{"kind":"Pod","namespace":"default","name":"p","uid":"u"},"hints":{"forZones":[{"name":"zone-a"}]}}],
             "ports":[{"name":"http","protocol":"TCP","port":0}]}
            """));
    }

    [Fact]
    public void Status_scale_delete_options_and_partial_metadata_round_trip()
    {
        AssertRoundTrip(new ApiException(422, "Invalid", "Service \"x\" is invalid") { DetailsName = "x", DetailsKind = "Service", Causes = [new("FieldValueInvalid", "spec.ports[0].port", "must be between 1 and 65535")] }.ToStatus());
        AssertRoundTrip(Parse("""{"kind":"Scale","apiVersion":"autoscaling/v1","metadata":{"name":"web","namespace":"default","resourceVersion":"5"},"spec":{"replicas":3},"status":{"replicas":2,"selector":"app=web"}}"""));
        AssertRoundTrip(Parse("""{"kind":"DeleteOptions","apiVersion":"v1","gracePeriodSeconds":0,"preconditions":{"uid":"u","resourceVersion":"4"},"propagationPolicy":"Background"}"""));
        AssertRoundTrip(Parse("""{"kind":"PartialObjectMetadata","apiVersion":"meta.k8s.io/v1","metadata":{"name":"p","namespace":"default","labels":{"a":"b"}}}"""));
    }

    [Fact]
    public void List_items_travel_without_type_meta_as_upstream()
    {
        JsonObject list = Parse("""
            {"kind":"PodList","apiVersion":"v1","metadata":{"resourceVersion":"12","continue":"c","remainingItemCount":3},
             "items":[{"kind":"Pod","apiVersion":"v1","metadata":{"name":"a"},"spec":{"containers":[{"name":"c","image":"i"}]}}]}
            """);
        JsonObject back = KubeProtobuf.Decode(KubeProtobuf.Encode(list), "test");
        ((JsonObject)list.Arr("items")[0]!).Remove("kind");
        ((JsonObject)list.Arr("items")[0]!).Remove("apiVersion");
        Assert.True(JsonNode.DeepEquals(list, back), back.ToJsonString());
    }

    [Fact]
    public void Watch_frames_are_length_delimited_watch_events_carrying_an_envelope()
    {
        JsonObject pod = Parse("""{"kind":"Pod","apiVersion":"v1","metadata":{"name":"a","resourceVersion":"9"}}""");
        byte[] frame = KubeProtobuf.EncodeWatchFrame("MODIFIED", pod);
        Assert.Equal((uint)frame.Length - 4, BinaryPrimitives.ReadUInt32BigEndian(frame));
        K8S.Io.Apimachinery.Pkg.Apis.Meta.V1.WatchEvent e = K8S.Io.Apimachinery.Pkg.Apis.Meta.V1.WatchEvent.Parser.ParseFrom(frame.AsSpan(4));
        Assert.Equal("MODIFIED", e.Type);
        Assert.True(JsonNode.DeepEquals(pod, KubeProtobuf.Decode(e.Object.Raw.Span, "event")));
    }

    [Fact]
    public void A_go_client_body_with_value_zeros_stores_as_go_json_would_write_it()
    {
        // What client-go sends for `kubectl create namespace x`: every non-pointer field, empty; the zero Time as an empty message.
        var ns = new K8S.Io.Api.Core.V1.Namespace
        {
            Metadata = new K8S.Io.Apimachinery.Pkg.Apis.Meta.V1.ObjectMeta
            {
                Name = "x", GenerateName = "", Namespace = "", SelfLink = "", Uid = "", ResourceVersion = "", Generation = 0,
                CreationTimestamp = new K8S.Io.Apimachinery.Pkg.Apis.Meta.V1.Time(),
            },
            Spec = new K8S.Io.Api.Core.V1.NamespaceSpec(),
            Status = new K8S.Io.Api.Core.V1.NamespaceStatus { Phase = "" },
        };
        JsonObject json = KubeProtobuf.Decode(Envelope("v1", "Namespace", ns.ToByteArray()), "body");
        Assert.Equal("""{"kind":"Namespace","apiVersion":"v1","metadata":{"name":"x"},"spec":{},"status":{}}""", json.ToJsonString());
    }

    internal static byte[] Envelope(string apiVersion, string kind, byte[] raw)
    {
        var unknown = new K8S.Io.Apimachinery.Pkg.Runtime.Unknown
        {
            TypeMeta = new K8S.Io.Apimachinery.Pkg.Runtime.TypeMeta { ApiVersion = apiVersion, Kind = kind },
            Raw = Google.Protobuf.ByteString.CopyFrom(raw), ContentEncoding = "", ContentType = "",
        };
        return [.. "k8s\0"u8, .. unknown.ToByteArray()];
    }
}
