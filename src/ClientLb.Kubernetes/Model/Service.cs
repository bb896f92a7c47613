namespace ClientLb.Kubernetes.Model;

/// <summary>A <c>v1</c> Service: the parts service discovery needs (ports, type, affinity, traffic distribution).</summary>
internal sealed class Service
{
    /// <summary>The object metadata.</summary>
    public ObjectMeta Metadata { get; set; } = new();

    /// <summary>The spec.</summary>
    public ServiceSpec Spec { get; set; } = new();

    /// <summary>
    /// Shrinks a decoded Service that a watch keeps: its name becomes <paramref name="name"/> (the same value, a string
    /// shared with the cache), and <see cref="ServiceSpec.ClusterIPs"/> is dropped when it only repeats
    /// <see cref="ServiceSpec.ClusterIP"/> (single-stack; readers fall back to it).
    /// </summary>
    internal void Compact(string name)
    {
        Metadata.Name = name;
        if (Spec.ClusterIPs is [string only] && only == Spec.ClusterIP)
        {
            Spec.ClusterIPs = null;
        }
    }
}

/// <summary>The Service spec subset.</summary>
internal sealed class ServiceSpec
{
    /// <summary><c>ClusterIP</c> (default), <c>NodePort</c>, <c>LoadBalancer</c> or <c>ExternalName</c>.</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(SharedNameConverter))]
    public string? Type { get; set; }

    /// <summary>The virtual IP, or <c>None</c> for a headless service.</summary>
    public string? ClusterIP { get; set; }

    /// <summary>
    /// Every virtual IP (dual-stack: one per family, the first equal to <see cref="ClusterIP"/>), or null when not set
    /// (or, in a watch's cache, when it held only <see cref="ClusterIP"/>).
    /// </summary>
    public List<string>? ClusterIPs { get; set; }

    /// <summary>The ports.</summary>
    public List<ServicePort>? Ports { get; set; }

    /// <summary>The pod selector; empty for selectorless services whose slices are managed by their users.</summary>
    public Dictionary<string, string>? Selector { get; set; }

    /// <summary><c>None</c> or <c>ClientIP</c>.</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(SharedNameConverter))]
    public string? SessionAffinity { get; set; }

    /// <summary>The ClientIP affinity settings.</summary>
    public SessionAffinityConfig? SessionAffinityConfig { get; set; }

    /// <summary>E.g. <c>PreferClose</c>, <c>PreferSameZone</c>, <c>PreferSameNode</c>.</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(SharedNameConverter))]
    public string? TrafficDistribution { get; set; }

    /// <summary>The DNS name of an ExternalName service.</summary>
    public string? ExternalName { get; set; }

    /// <summary>Whether not-ready endpoints are published as ready.</summary>
    public bool? PublishNotReadyAddresses { get; set; }
}

/// <summary>A Service port.</summary>
internal sealed class ServicePort
{
    /// <summary>The port's name (required when the service has several ports).</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(SharedNameConverter))]
    public string? Name { get; set; }

    /// <summary>The port clients address on the service.</summary>
    public int Port { get; set; }

    /// <summary>The pod port: a number or the name of a container port.</summary>
    public IntOrString? TargetPort { get; set; }

    /// <summary><c>TCP</c> (default), <c>UDP</c> or <c>SCTP</c>.</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(SharedNameConverter))]
    public string? Protocol { get; set; }

    /// <summary>The application protocol.</summary>
    [System.Text.Json.Serialization.JsonConverter(typeof(SharedNameConverter))]
    public string? AppProtocol { get; set; }
}

/// <summary>Session affinity settings.</summary>
internal sealed class SessionAffinityConfig
{
    /// <summary>The ClientIP settings.</summary>
    public ClientIPConfig? ClientIP { get; set; }
}

/// <summary>ClientIP affinity settings.</summary>
internal sealed class ClientIPConfig
{
    /// <summary>How long a client sticks to an endpoint (default 10800).</summary>
    public int? TimeoutSeconds { get; set; }
}
