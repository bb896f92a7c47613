using ClientLb.Kubernetes.Model;

namespace ClientLb.Kubernetes.Watching;

/// <summary>
/// What makes a decoded object unusable (a "poison" object: nulls where the API never sends them). The watch loop
/// skips such an object with a log line naming it and a metric, and moves past its resourceVersion so it is never
/// replayed; the rest of the pipeline can then rely on the shape the API documents.
/// </summary>
internal static class ObjectChecks
{
    /// <summary>Why <paramref name="item"/> cannot be used, or null when it can.</summary>
    public static string? ProblemOf<T>(T item) => item switch
    {
        null => "the object is null",
        EndpointSlice slice => SliceProblem(slice),
        Service service => ServiceProblem(service),
        _ => null,
    };

    /// <summary><c>namespace/name</c> of <paramref name="item"/>, for messages.</summary>
    public static string NameOf<T>(T item) => item switch
    {
        EndpointSlice slice => NameOf(slice.Metadata),
        Service service => NameOf(service.Metadata),
        _ => "(unnamed)",
    };

    private static string NameOf(ObjectMeta? meta) => meta is null ? "(no metadata)" : $"{meta.Namespace ?? "?"}/{meta.Name ?? "?"}";

    private static string? MetaProblem(ObjectMeta? meta)
    {
        if (meta is null)
        {
            return "metadata is null";
        }
        if (meta.Name is null)
        {
            return "metadata.name is missing";
        }
        return meta.Labels?.Any(static l => l.Value is null) == true ? "a label value is null" : null;
    }

    private static string? SliceProblem(EndpointSlice slice)
    {
        if (MetaProblem(slice.Metadata) is string problem)
        {
            return problem;
        }
        if (slice.Ports?.Contains(null!) == true)
        {
            return "ports holds a null port";
        }
        if (slice.Endpoints is not { } endpoints)
        {
            return null;
        }
        for (int i = 0; i < endpoints.Count; i++)
        {
            Model.Endpoint? endpoint = endpoints[i];
            string? bad = endpoint is null ? "is null"
                : endpoint.AddressProblem is string addresses ? addresses
                : endpoint.Hints?.ForZones?.Any(static z => z?.Name is null) == true ? "has a zone hint without a name"
                : endpoint.Hints?.ForNodes?.Any(static n => n?.Name is null) == true ? "has a node hint without a name"
                : null;
            if (bad is not null)
            {
                return $"endpoints[{i}] {bad}";
            }
        }
        return null;
    }

    private static string? ServiceProblem(Service service)
    {
        if (MetaProblem(service.Metadata) is string problem)
        {
            return problem;
        }
        if (service.Spec is null)
        {
            return "spec is null";
        }
        if (service.Spec.Ports?.Contains(null!) == true)
        {
            return "spec.ports holds a null port";
        }
        return service.Spec.ClusterIPs?.Contains(null!) == true ? "spec.clusterIPs holds a null address" : null;
    }
}
