using System.Collections.Immutable;
using ClientLb.Kubernetes.Model;
using ClientEndpoint = ClientLb.Endpoints.Endpoint;

namespace ClientLb.Kubernetes.Source;

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
    private readonly Dictionary<string, Candidates> _byAuthority = new(StringComparer.Ordinal);
    private readonly List<Candidates> _touched = [];
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
    public IEnumerable<ClientEndpoint> Endpoints => _byAuthority.Values.Select(static c => c.Winner!);

    /// <summary>How many endpoints the merge holds.</summary>
    public int Count => _byAuthority.Count;

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
            _byAuthority.Clear();
            _choice = choice;
        }
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
        foreach (Candidates candidates in _touched)
        {
            ClientEndpoint? winner = candidates.Winner;
            if (winner is null)
            {
                _byAuthority.Remove(candidates.Authority);
                if (candidates.Before is not null && incremental)
                {
                    removed.Add(candidates.Before);
                }
            }
            else if (!ReferenceEquals(winner, candidates.Before) && incremental)
            {
                upserted.Add(winner);
            }
            candidates.Before = null;
            candidates.Touched = false;
        }
        _touched.Clear();
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
            if (old[i] is ClientEndpoint gone && (i >= next.Length || !ReferenceEquals(gone, next[i])))
            {
                Touch(gone.Authority).Remove(slice, gone);
            }
        }
        for (int i = 0; i < next.Length; i++)
        {
            if (next[i] is ClientEndpoint added && (i >= old.Length || !ReferenceEquals(added, old[i])))
            {
                Touch(added.Authority).Add(slice, i, added);
            }
        }
    }

    private Candidates Touch(string authority)
    {
        if (!_byAuthority.TryGetValue(authority, out Candidates? candidates))
        {
            _byAuthority.Add(authority, candidates = new Candidates(authority));
        }
        if (!candidates.Touched)
        {
            candidates.Touched = true;
            candidates.Before = candidates.Winner;
            _touched.Add(candidates);
        }
        return candidates;
    }

    private sealed class SliceState(EndpointSlice slice, ClientEndpoint?[] mapped)
    {
        public EndpointSlice Slice { get; set; } = slice;

        public ClientEndpoint?[] Mapped { get; set; } = mapped;

        public int Generation { get; set; }
    }

    /// <summary>Every slice's copy of one address+port, in slice-name then position order (nearly always just one).</summary>
    private sealed class Candidates(string authority)
    {
        private (string Slice, int Position, ClientEndpoint Endpoint)[] _items = [];

        public string Authority => authority;

        public bool Touched { get; set; }

        /// <summary>The winner before this update's first change, while <see cref="Touched"/>.</summary>
        public ClientEndpoint? Before { get; set; }

        public ClientEndpoint? Winner
        {
            get
            {
                (string Slice, int Position, ClientEndpoint Endpoint)[] items = _items;
                foreach ((string _, int _, ClientEndpoint endpoint) in items)
                {
                    if (endpoint.Conditions.Ready)
                    {
                        return endpoint;
                    }
                }
                return items.Length > 0 ? items[0].Endpoint : null;
            }
        }

        public void Add(string slice, int position, ClientEndpoint endpoint)
        {
            int at = 0;
            while (at < _items.Length && (string.CompareOrdinal(_items[at].Slice, slice) is int order && (order < 0 || (order == 0 && _items[at].Position < position))))
            {
                at++;
            }
            _items = [.. _items.AsSpan(0, at), (slice, position, endpoint), .. _items.AsSpan(at)];
        }

        public void Remove(string slice, ClientEndpoint endpoint)
        {
            int at = Array.FindIndex(_items, c => ReferenceEquals(c.Endpoint, endpoint) && c.Slice == slice);
            if (at >= 0)
            {
                _items = [.. _items.AsSpan(0, at), .. _items.AsSpan(at + 1)];
            }
        }
    }
}
