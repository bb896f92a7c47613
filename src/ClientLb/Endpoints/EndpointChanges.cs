using System.Collections.Immutable;

namespace ClientLb.Endpoints;

/// <summary>
/// What changed between two consecutive snapshots of a source (version <c>N-1</c> to <c>N</c>), so a consumer that
/// built its state from <c>N-1</c> can apply the change in O(changed) instead of re-reading every endpoint.
/// Endpoints are identified by <see cref="Endpoint.Authority"/> (host and port).
/// </summary>
public sealed class EndpointChanges
{
    /// <summary>Creates a change set.</summary>
    public EndpointChanges(ImmutableArray<Endpoint> added, ImmutableArray<EndpointUpdate> updated, ImmutableArray<Endpoint> removed)
    {
        Added = added.IsDefault ? [] : added;
        Updated = updated.IsDefault ? [] : updated;
        Removed = removed.IsDefault ? [] : removed;
    }

    /// <summary>Endpoints whose authority was not in the previous snapshot.</summary>
    public ImmutableArray<Endpoint> Added { get; }

    /// <summary>Endpoints whose authority stayed but whose attributes (conditions, zone, hints, weight...) changed.</summary>
    public ImmutableArray<EndpointUpdate> Updated { get; }

    /// <summary>The previous snapshot's endpoints whose authority is gone.</summary>
    public ImmutableArray<Endpoint> Removed { get; }

    /// <summary>How many endpoints changed in all.</summary>
    public int Count => Added.Length + Updated.Length + Removed.Length;

    /// <inheritdoc />
    public override string ToString() => $"+{Added.Length} ~{Updated.Length} -{Removed.Length}";
}

/// <summary>One endpoint that changed in place: the same authority with other attributes.</summary>
/// <param name="Previous">The endpoint as the previous snapshot had it.</param>
/// <param name="Current">The endpoint as it is now.</param>
public readonly record struct EndpointUpdate(Endpoint Previous, Endpoint Current);
