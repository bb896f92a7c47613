using System.Collections.Immutable;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using ClientLb.Kubernetes.Model;
using ClientEndpoint = ClientLb.Endpoints.Endpoint;

namespace ClientLb.Kubernetes.Slices;

/// <summary>
/// The merged endpoints of one service's slices for one port, kept between events so that one slice changing costs that
/// slice, not the service: unchanged slices are skipped by reference, unchanged endpoints of a changed slice keep their
/// mapped object, and only the addresses the change touched are re-merged. The merge rule is
/// <see cref="EndpointMapper.Merge"/>'s: an address+port in several slices appears once, the ready copy winning, else the
/// copy of the first slice by name.
/// </summary>
internal sealed class SliceMerger
{
    private readonly Dictionary<string, SliceState> _slices = new(StringComparer.Ordinal);
    // One element per address+port (Endpoint.AddressComparer, no text made): its only copy, or for an address held by
    // several slices (a pod moving between them, rare), one of its copies, which keys its entry in _shared. A set of the
    // endpoints plus a small dictionary of the shared ones rather than a dictionary of every address's copies: ~21
    // bytes per endpoint instead of ~55 (issue 18).
    private readonly HashSet<ClientEndpoint> _addresses = new(ClientEndpoint.AddressComparer);
    // Every copy of each address+port held more than once, in merge order; null until an address is.
    private Dictionary<ClientEndpoint, Copies>? _shared;
    // During an incremental update: the winner of each address+port touched, as it was before the update (null: absent).
    private Dictionary<ClientEndpoint, ClientEndpoint?>? _before;
    private bool _incremental;
    private readonly bool _allowLoopback;
    private readonly Action<string, string>? _dropped;
    private PortChoice? _choice;
    private int _generation;

    /// <summary>Creates a merger; endpoints whose address is refused are reported to <paramref name="dropped"/> (record, reason).</summary>
    public SliceMerger(bool allowLoopback = false, Action<string, string>? dropped = null)
    {
        _allowLoopback = allowLoopback;
        _dropped = dropped;
    }

    /// <summary>How many endpoints of the current slices were refused (no usable address).</summary>
    public int DroppedCount => _slices.Values.Sum(static s => s.Mapped.Count(static m => m is null));

    /// <summary>The merged endpoints: one per authority.</summary>
    public IEnumerable<ClientEndpoint> Endpoints => _shared is null ? _addresses : _addresses.Select(WinnerOf);

    /// <summary>How many endpoints the merge holds.</summary>
    public int Count => _addresses.Count;

    /// <summary>The endpoint the merge gives for <paramref name="held"/>'s address+port (held in <see cref="_addresses"/>).</summary>
    private ClientEndpoint WinnerOf(ClientEndpoint held) => _shared is not null && _shared.TryGetValue(held, out Copies copies) ? copies.Winner : held;

    /// <summary>
    /// Brings the merge to <paramref name="slices"/> (all slices of the service) for <paramref name="choice"/>, adding to
    /// <paramref name="upserted"/> and <paramref name="removed"/> what changed in the merged endpoints. Returns false, adding
    /// nothing, when the merge started over (first use, another port): then the caller publishes <see cref="Endpoints"/> whole.
    /// </summary>
    public bool Update(ImmutableArray<EndpointSlice> slices, PortChoice choice, List<ClientEndpoint> upserted, List<ClientEndpoint> removed)
    {
        bool incremental = _choice == choice;
        if (!incremental)
        {
            _slices.Clear();
            _addresses.Clear();
            _shared = null;
            _choice = choice;
            int endpoints = 0;
            foreach (EndpointSlice slice in slices)
            {
                endpoints += slice.Endpoints?.Count ?? 0;
            }
            _addresses.EnsureCapacity(endpoints); // one allocation of the right size rather than growth by doubling
        }
        _before = null;
        _incremental = incremental;
        int generation = ++_generation, seen = 0;
        foreach (EndpointSlice slice in slices)
        {
            string name = slice.Metadata.Name ?? "";
            if (_slices.TryGetValue(name, out SliceState? state))
            {
                if (state.Generation == generation)
                {
                    continue; // a name given twice: the first copy counts
                }
                state.Generation = generation;
                seen++;
                if (ReferenceEquals(state.Slice, slice))
                {
                    continue;
                }
                ClientEndpoint?[] mapped = Map(slice, choice, state);
                Replace(name, state.Mapped, mapped);
                state.Slice = slice;
                state.Mapped = mapped;
            }
            else
            {
                state = new SliceState(slice, Map(slice, choice, null)) { Generation = generation };
                seen++;
                _slices.Add(name, state);
                Replace(name, [], state.Mapped);
            }
        }
        if (_slices.Count > seen)
        {
            foreach ((string name, SliceState state) in _slices.Where(kv => kv.Value.Generation != generation).ToList())
            {
                Replace(name, state.Mapped, []);
                _slices.Remove(name);
            }
        }
        if (incremental && _before is not null)
        {
            foreach ((ClientEndpoint key, ClientEndpoint? before) in _before)
            {
                if (_addresses.TryGetValue(key, out ClientEndpoint? held))
                {
                    ClientEndpoint winner = WinnerOf(held);
                    if (!ReferenceEquals(winner, before))
                    {
                        upserted.Add(winner);
                    }
                }
                else if (before is not null)
                {
                    removed.Add(before);
                }
            }
        }
        _before = null;
        return incremental;
    }

    /// <summary>The slice's endpoints, aligned with its API endpoints (null where one has no usable address).</summary>
    private ClientEndpoint?[] Map(EndpointSlice slice, PortChoice choice, SliceState? previous)
    {
        if (EndpointMapper.ServedPort(slice, choice) is not int port)
        {
            return [];
        }
        List<Model.Endpoint> endpoints = slice.Endpoints!;
        List<Model.Endpoint>? before = previous is not null && previous.Slice.AddressType == slice.AddressType && EndpointMapper.ServedPort(previous.Slice, choice) == port
            ? previous.Slice.Endpoints : null;
        var mapped = new ClientEndpoint?[endpoints.Count];
        for (int i = 0; i < mapped.Length; i++)
        {
            // The controller edits slices in place, so an endpoint usually keeps its position.
            if (before is not null && i < before.Count && i < previous!.Mapped.Length && EndpointMapper.SameMapping(before[i], endpoints[i]))
            {
                mapped[i] = previous.Mapped[i]; // a refused endpoint stays refused and is not reported again
                continue;
            }
            mapped[i] = EndpointMapper.MapEndpoint(endpoints[i], port, _allowLoopback, out string? error);
            if (mapped[i] is null)
            {
                _dropped?.Invoke(EndpointMapper.Describe(slice, endpoints[i]), error!);
            }
        }
        return mapped;
    }

    // Position by position, endpoints that stayed the same object are skipped; all removals go before the additions
    // so an endpoint that moved within the slice ends up counted once.
    private void Replace(string slice, ClientEndpoint?[] old, ClientEndpoint?[] next)
    {
        for (int i = 0; i < old.Length; i++)
        {
            if (old[i] is ClientEndpoint gone && (i >= next.Length || !ReferenceEquals(gone, next[i])) && _addresses.TryGetValue(gone, out ClientEndpoint? held))
            {
                ref Copies copies = ref _shared is null ? ref Unsafe.NullRef<Copies>() : ref CollectionsMarshal.GetValueRefOrNullRef(_shared, gone);
                if (Unsafe.IsNullRef(ref copies))
                {
                    if (ReferenceEquals(held, gone))
                    {
                        Touch(gone, held);
                        _addresses.Remove(gone);
                    }
                    continue;
                }
                Touch(gone, copies.Winner);
                bool left = copies.Remove(slice, gone);
                Copies kept = copies;
                _shared!.Remove(gone);
                _addresses.Remove(gone);
                if (left)
                {
                    // Held by a copy still there, so the gone one is not kept alive; back to a plain element when one copy is left.
                    _addresses.Add(kept.First);
                    if (kept.Shared)
                    {
                        _shared.Add(kept.First, kept);
                    }
                }
            }
        }
        for (int i = 0; i < next.Length; i++)
        {
            if (next[i] is ClientEndpoint added && (i >= old.Length || !ReferenceEquals(added, old[i])))
            {
                if (!_addresses.TryGetValue(added, out ClientEndpoint? held))
                {
                    Touch(added, null);
                    _addresses.Add(added);
                    continue;
                }
                ref Copies copies = ref CollectionsMarshal.GetValueRefOrAddDefault(_shared ??= new(ClientEndpoint.AddressComparer), held, out bool exists);
                if (!exists)
                {
                    (string heldSlice, int heldPosition) = Locate(held, slice, next);
                    copies = new Copies(heldSlice, heldPosition, held);
                }
                Touch(added, copies.Winner);
                copies.Add(slice, i, added);
            }
        }
    }

    /// <summary>
    /// The slice and position of <paramref name="held"/>, the only copy of its address so far: in <paramref name="next"/>
    /// (the endpoints <paramref name="slice"/> is being given) or in another slice. Runs only when an address is found in
    /// a second place, which is rare (a pod moving between slices).
    /// </summary>
    private (string Slice, int Position) Locate(ClientEndpoint held, string slice, ClientEndpoint?[] next)
    {
        int at = PositionOf(next, held);
        if (at >= 0)
        {
            return (slice, at);
        }
        foreach ((string name, SliceState state) in _slices)
        {
            if (name != slice && PositionOf(state.Mapped, held) is int position and >= 0)
            {
                return (name, position);
            }
        }
        throw new InvalidOperationException($"the merge holds {held} but no slice has it");
    }

    private static int PositionOf(ClientEndpoint?[] endpoints, ClientEndpoint endpoint)
    {
        for (int i = 0; i < endpoints.Length; i++)
        {
            if (ReferenceEquals(endpoints[i], endpoint))
            {
                return i;
            }
        }
        return -1;
    }

    /// <summary>Records the winner of <paramref name="key"/>'s address+port before this update's first change to it.</summary>
    private void Touch(ClientEndpoint key, ClientEndpoint? winner)
    {
        if (_incremental)
        {
            (_before ??= new Dictionary<ClientEndpoint, ClientEndpoint?>(ClientEndpoint.AddressComparer)).TryAdd(key, winner);
        }
    }

    private sealed class SliceState(EndpointSlice slice, ClientEndpoint?[] mapped)
    {
        public EndpointSlice Slice { get; set; } = slice;

        public ClientEndpoint?[] Mapped { get; set; } = mapped;

        public int Generation { get; set; }
    }

    /// <summary>
    /// Every slice's copy of one address+port in slice-name then position order: the first inline, the rest (nearly
    /// always none: a pod moving between slices) in an array.
    /// </summary>
    private struct Copies(string slice, int position, ClientEndpoint endpoint)
    {
        private string _slice = slice;
        private int _position = position;
        private ClientEndpoint _endpoint = endpoint;
        private (string Slice, int Position, ClientEndpoint Endpoint)[]? _more;

        /// <summary>The first copy in order.</summary>
        public readonly ClientEndpoint First => _endpoint;

        /// <summary>Whether more than one copy is left.</summary>
        public readonly bool Shared => _more is not null;

        /// <summary>The first ready copy, else the first.</summary>
        public readonly ClientEndpoint Winner
        {
            get
            {
                if (_more is null || _endpoint.Conditions.Ready)
                {
                    return _endpoint;
                }
                foreach ((string _, int _, ClientEndpoint endpoint) in _more)
                {
                    if (endpoint.Conditions.Ready)
                    {
                        return endpoint;
                    }
                }
                return _endpoint;
            }
        }

        public void Add(string slice, int position, ClientEndpoint endpoint)
        {
            if (Before(slice, position, _slice, _position))
            {
                _more = [(_slice, _position, _endpoint), .. _more ?? []];
                (_slice, _position, _endpoint) = (slice, position, endpoint);
                return;
            }
            (string Slice, int Position, ClientEndpoint Endpoint)[] more = _more ?? [];
            int at = 0;
            while (at < more.Length && !Before(slice, position, more[at].Slice, more[at].Position))
            {
                at++;
            }
            _more = [.. more.AsSpan(0, at), (slice, position, endpoint), .. more.AsSpan(at)];
        }

        /// <summary>Removes the slice's copy; false when no copy is left.</summary>
        public bool Remove(string slice, ClientEndpoint endpoint)
        {
            if (ReferenceEquals(_endpoint, endpoint) && _slice == slice)
            {
                if (_more is null)
                {
                    return false;
                }
                (_slice, _position, _endpoint) = _more[0];
                _more = _more.Length == 1 ? null : _more[1..];
                return true;
            }
            if (_more is not null)
            {
                int at = Array.FindIndex(_more, c => ReferenceEquals(c.Endpoint, endpoint) && c.Slice == slice);
                if (at >= 0)
                {
                    _more = _more.Length == 1 ? null : [.. _more.AsSpan(0, at), .. _more.AsSpan(at + 1)];
                }
            }
            return true;
        }

        private static bool Before(string slice, int position, string otherSlice, int otherPosition) =>
            string.CompareOrdinal(slice, otherSlice) is int order && (order < 0 || (order == 0 && position < otherPosition));
    }
}
