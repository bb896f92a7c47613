using System.Collections.Immutable;
using ClientLb.Eligibility;
using ClientLb.Names;
using ClientLb.Registry;

namespace ClientLb.Endpoints;

/// <summary>
/// An immutable, versioned view of a service's endpoints as one source saw them at one time.
/// A change never edits a snapshot; the source publishes a new one with a higher version.
/// </summary>
public sealed class EndpointSnapshot
{
    /// <summary>Creates a snapshot.</summary>
    public EndpointSnapshot(ServiceName service, string sourceKind, long version, DateTimeOffset createdAt, ImmutableArray<Endpoint> endpoints)
        : this(service, sourceKind, version, createdAt, endpoints, null)
    {
    }

    /// <summary>Creates a snapshot that also says what changed since version <paramref name="version"/> - 1.</summary>
    public EndpointSnapshot(ServiceName service, string sourceKind, long version, DateTimeOffset createdAt, ImmutableArray<Endpoint> endpoints, EndpointChanges? changes)
    {
        Service = service ?? throw new ArgumentNullException(nameof(service));
        SourceKind = sourceKind ?? throw new ArgumentNullException(nameof(sourceKind));
        Version = version;
        CreatedAt = createdAt;
        Endpoints = endpoints.IsDefault ? [] : endpoints;
        Changes = changes;
    }

    /// <summary>The service these endpoints belong to.</summary>
    public ServiceName Service { get; }

    /// <summary>The kind of source that produced it (<c>config</c>, <c>dns</c>, <c>kubernetes</c>).</summary>
    public string SourceKind { get; }

    /// <summary>Increases by one with every change the source publishes.</summary>
    public long Version { get; }

    /// <summary>When the source obtained this view.</summary>
    public DateTimeOffset CreatedAt { get; }

    /// <summary>All endpoints, whatever their conditions; <see cref="EndpointSelector"/> decides which are eligible.</summary>
    public ImmutableArray<Endpoint> Endpoints { get; }

    /// <summary>
    /// What changed since the snapshot of version <see cref="Version"/> - 1, or null when not known (the first snapshot).
    /// Lets a consumer that built its state from the previous version apply only the change.
    /// </summary>
    public EndpointChanges? Changes { get; }

    /// <inheritdoc />
    public override string ToString() => $"{Service} v{Version} from {SourceKind}: {Endpoints.Length} endpoint(s)";
}
