namespace ClientLb.Balancing.Policies;

/// <summary>
/// Hash affinity: requests with the same key (<see cref="AffinityOptions"/>: client IP, header, cookie or a caller
/// key) go to the same endpoint, through a Maglev table, so a change of one endpoint moves only about 1/N of the keys.
/// A request without a key gets a random endpoint; a retry moves to the key's next endpoint in the table.
/// </summary>
public sealed class HashPolicy : ILoadBalancingPolicy
{
    /// <summary>The policy name, <c>Hash</c>.</summary>
    public const string PolicyName = "Hash";

    /// <inheritdoc />
    public string Name => PolicyName;

    /// <inheritdoc />
    public EndpointPicker CreatePicker(IReadOnlyList<BalancedEndpoint> endpoints) =>
        CreatePicker(endpoints, new PolicyContext("unnamed"));

    /// <inheritdoc />
    public EndpointPicker CreatePicker(IReadOnlyList<BalancedEndpoint> endpoints, PolicyContext context)
    {
        BalancedEndpoint[] array = PickerArrays.Of(endpoints);
        // The table size only grows for a service: a shrink would remap every key, unlike a change of one endpoint.
        TableSize state = context.GetOrAddState(() => new TableSize());
        int size = MaglevTable.SizeFor(array.Length, Volatile.Read(ref state.Value));
        Volatile.Write(ref state.Value, size);
        var table = new MaglevTable([.. array.Select(e => e.Endpoint.Authority)], size);
        return new Picker(array, table, new AffinityKey(context.Options.Affinity, context.Locality));
    }

    private sealed class TableSize
    {
        public int Value;
    }

    private sealed class Picker(BalancedEndpoint[] endpoints, MaglevTable table, AffinityKey key) : EndpointPicker
    {
        public override IReadOnlyList<BalancedEndpoint> Endpoints => endpoints;

        public override BalancedEndpoint Pick(in PickContext context)
        {
            if (!key.TryGetHash(context.Request, out ulong hash))
            {
                hash = (ulong)Random.Shared.NextInt64();
            }
            BalancedEndpoint picked = endpoints[table.Lookup(hash)];
            if (ReferenceEquals(picked, context.Exclude) && endpoints.Length > 1)
            {
                // The key's fallback: a second, independent slot; then simply the next endpoint.
                picked = endpoints[table.Lookup(AffinityKey.Mix(hash + 1))];
                if (ReferenceEquals(picked, context.Exclude))
                {
                    picked = endpoints[(Array.IndexOf(endpoints, picked) + 1) % endpoints.Length];
                }
            }
            return picked;
        }
    }
}
