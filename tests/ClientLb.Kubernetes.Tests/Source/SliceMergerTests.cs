using System.Collections.Immutable;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Sources;
using ClientEndpoint = ClientLb.Endpoints.Endpoint;
using Conditions = ClientLb.Kubernetes.Model.EndpointConditions;

namespace ClientLb.Kubernetes.Tests.Source;

/// <summary>
/// The incremental merge must always equal the whole merge (<see cref="EndpointMapper.Map"/>) of the same slices, and
/// the changes it reports must turn the previous merge into the next one.
/// </summary>
public class SliceMergerTests
{
    private static readonly PortChoice Http = new("http", null);

    private static Model.Endpoint Ep(Random random) => new()
    {
        Address = $"10.1.0.{random.Next(1, 40)}",
        Conditions = new Conditions { Ready = random.Next(4) != 0, Serving = random.Next(3) != 0, Terminating = random.Next(5) == 0 },
        Zone = random.Next(3) == 0 ? "z1" : "z2",
        Hints = random.Next(4) == 0 ? new EndpointHints { ForZones = [new ForZone { Name = "z1" }] } : null,
    };

    private static EndpointSlice Slice(string name, int port, IEnumerable<Model.Endpoint> endpoints, string type = "IPv4") => new()
    {
        Metadata = new ObjectMeta { Name = name },
        AddressType = type,
        Ports = [new EndpointPort { Name = "http", Port = port, Protocol = "TCP" }],
        Endpoints = [.. endpoints],
    };

    [Fact]
    public void Random_slice_edits_always_merge_like_the_whole_merge()
    {
        var random = new Random(42);
        var merger = new SliceMerger();
        var slices = new SortedDictionary<string, EndpointSlice>(StringComparer.Ordinal);
        var published = new Dictionary<string, ClientEndpoint>();
        var upserted = new List<ClientEndpoint>();
        var removed = new List<ClientEndpoint>();
        int incremental = 0;
        for (int step = 0; step < 3000; step++)
        {
            string name = "s" + random.Next(6);
            switch (random.Next(6))
            {
                case 0:
                    slices.Remove(name);
                    break;
                case 1:
                    slices[name] = Slice(name, random.Next(3) == 0 ? 8081 : 8080, Enumerable.Range(0, random.Next(0, 6)).Select(_ => Ep(random)),
                        random.Next(10) == 0 ? "FQDN" : "IPv4");
                    break;
                default:
                    if (slices.TryGetValue(name, out EndpointSlice? slice))
                    {
                        // The controller's way: a copy of the slice with one endpoint edited, added or dropped.
                        List<Model.Endpoint> endpoints = [.. slice.Endpoints!];
                        int at = random.Next(endpoints.Count + 1);
                        if (at == endpoints.Count || random.Next(3) == 0)
                        {
                            endpoints.Insert(at, Ep(random));
                        }
                        else if (random.Next(2) == 0)
                        {
                            endpoints.RemoveAt(at);
                        }
                        else
                        {
                            endpoints[at] = Ep(random);
                        }
                        slices[name] = Slice(name, slice.Ports![0].Port!.Value, endpoints, slice.AddressType!);
                    }
                    break;
            }

            ImmutableArray<EndpointSlice> current = [.. slices.Values];
            bool delta = merger.Update(current, Http, upserted, removed);
            if (delta)
            {
                incremental++;
                foreach (ClientEndpoint e in removed)
                {
                    Assert.True(published.Remove(e.Authority), $"step {step}: removed {e.Authority} was not published");
                }
                foreach (ClientEndpoint e in upserted)
                {
                    published[e.Authority] = e;
                }
            }
            else
            {
                published = merger.Endpoints.ToDictionary(e => e.Authority);
            }
            upserted.Clear();
            removed.Clear();

            List<ClientEndpoint> expected = EndpointMapper.Map(current, Http);
            Assert.Equal(expected.Select(e => e.Authority).Order(), merger.Endpoints.Select(e => e.Authority).Order());
            Assert.Equal(expected.Count, merger.Count);
            Assert.All(expected, e => Assert.Equal(e, published[e.Authority]));
            Assert.Equal(expected.Count, published.Count);
        }
        Assert.Equal(2999, incremental);
    }

    [Fact]
    public void An_unchanged_endpoint_of_a_changed_slice_keeps_its_object_and_is_not_reported()
    {
        var random = new Random(7);
        Model.Endpoint[] endpoints = [.. Enumerable.Range(1, 5).Select(i => new Model.Endpoint { Address = $"10.2.0.{i}", Conditions = new Conditions { Ready = true } })];
        var merger = new SliceMerger();
        List<ClientEndpoint> upserted = [], removed = [];
        Assert.False(merger.Update([Slice("a", 8080, endpoints)], Http, upserted, removed));
        Dictionary<string, ClientEndpoint> before = merger.Endpoints.ToDictionary(e => e.Authority);

        // A new slice object (a watch event) with fresh API objects for the same endpoints, and the third one not ready.
        Model.Endpoint[] copies = [.. endpoints.Select(e => new Model.Endpoint { Address = e.Address, Conditions = new Conditions { Ready = true } })];
        copies[2].Conditions = new Conditions { Ready = false };
        Assert.True(merger.Update([Slice("a", 8080, copies)], Http, upserted, removed));
        ClientEndpoint changed = Assert.Single(upserted);
        Assert.Equal("10.2.0.3:8080", changed.Authority);
        Assert.False(changed.Conditions.Ready);
        Assert.Empty(removed);
        Assert.All(merger.Endpoints.Where(e => e.Authority != changed.Authority), e => Assert.Same(before[e.Authority], e));
    }

    [Fact]
    public void A_pod_moving_between_slices_stays_published_with_its_ready_copy()
    {
        Model.Endpoint Pod(bool ready) => new() { Address = "10.3.0.1", Conditions = new Conditions { Ready = ready, Serving = true, Terminating = !ready } };
        var merger = new SliceMerger();
        List<ClientEndpoint> upserted = [], removed = [];
        merger.Update([Slice("a", 8080, [Pod(false)])], Http, upserted, removed);
        // The new slice lists it ready while the old one still has the terminating copy: one endpoint, the ready one.
        Assert.True(merger.Update([Slice("a", 8080, [Pod(false)]), Slice("b", 8080, [Pod(true)])], Http, upserted, removed));
        Assert.True(Assert.Single(upserted).Conditions.Ready);
        upserted.Clear();
        // The old slice lets go of it: nothing changes for clients.
        Assert.True(merger.Update([Slice("a", 8080, []), Slice("b", 8080, [Pod(true)])], Http, upserted, removed));
        Assert.Empty(upserted);
        Assert.Empty(removed);
        Assert.True(Assert.Single(merger.Endpoints).Conditions.Ready);
    }

    [Fact]
    public void A_kept_slice_shares_its_conditions_and_names_and_maps_as_before()
    {
        string Text(string value) => new(value.AsSpan()); // a fresh string, as a decoder makes one per endpoint
        Model.Endpoint Decoded(int i) => new()
        {
            Address = $"10.1.0.{i}",
            Conditions = new Conditions { Ready = i % 2 == 0, Serving = true },
            Zone = Text("zone-a"),
            NodeName = Text(i < 2 ? "node-1" : "node-2"),
        };
        EndpointSlice slice = Slice("s1", 8080, Enumerable.Range(0, 4).Select(Decoded));
        slice.Endpoints!.Capacity = 16; // as a decoder's list grows
        List<ClientEndpoint> before = EndpointMapper.Map([slice], Http, allowLoopback: false);
        var names = new Dictionary<string, string>(StringComparer.Ordinal);

        slice.Compact(names);

        List<Model.Endpoint> endpoints = slice.Endpoints!;
        Assert.Equal(4, endpoints.Capacity);
        Assert.Same(endpoints[0].Conditions, endpoints[2].Conditions);
        Assert.Same(endpoints[1].Conditions, endpoints[3].Conditions);
        Assert.NotSame(endpoints[0].Conditions, endpoints[1].Conditions);
        Assert.Same(endpoints[0].Zone, endpoints[3].Zone);
        Assert.Same(endpoints[0].NodeName, endpoints[1].NodeName);
        Assert.Same(endpoints[2].NodeName, endpoints[3].NodeName);
        Assert.Equal(2, names.Count(n => n.Key.StartsWith("node-", StringComparison.Ordinal)));
        Assert.Equal(before, EndpointMapper.Map([slice], Http, allowLoopback: false));
        // Issue 18: the address is held parsed, its text made again the same, and every endpoint mapped from it shares it.
        Assert.Equal(["10.1.0.0", "10.1.0.1", "10.1.0.2", "10.1.0.3"], endpoints.Select(e => e.Address));
        Assert.All(endpoints, e => Assert.NotNull(e.ParsedAddress));
        Assert.Same(endpoints[0].ParsedAddress, EndpointMapper.Map([slice], Http, allowLoopback: false)[0].Address);
        Assert.True(EndpointMapper.SameMapping(endpoints[1], Decoded(1))); // held parsed against a fresh decode: the same
        Assert.False(EndpointMapper.SameMapping(endpoints[1], Decoded(2)));
        // A second slice with the same names takes the kept strings.
        EndpointSlice next = Slice("s2", 8080, [Decoded(1)]);
        next.Compact(names);
        Assert.Same(endpoints[0].NodeName, next.Endpoints![0].NodeName);
    }

    [Theory]
    [InlineData("010.0.0.1", "not a canonical dotted-quad IPv4 address")]
    [InlineData("10.1", "not a canonical dotted-quad IPv4 address")]
    [InlineData("2001:DB8::1", "not in canonical IPv6 form")]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("127.0.0.1", "loopback")]
    public void A_kept_slice_refuses_the_addresses_a_fresh_one_refuses_with_the_same_reason(string address, string reason)
    {
        EndpointSlice Fresh() => Slice("s1", 8080, [new Model.Endpoint { Address = address, Conditions = new Conditions { Ready = true } }]);
        var fresh = new List<string>();
        var kept = new List<string>();
        EndpointSlice compacted = Fresh();
        compacted.Compact(new Dictionary<string, string>(StringComparer.Ordinal));

        Assert.Empty(EndpointMapper.Map([Fresh()], Http, dropped: (_, why) => fresh.Add(why)));
        Assert.Empty(EndpointMapper.Map([compacted], Http, dropped: (_, why) => kept.Add(why)));

        Assert.Contains(reason, Assert.Single(fresh), StringComparison.Ordinal);
        Assert.Equal(fresh, kept);
        Assert.Equal(address, compacted.Endpoints![0].Address);
    }

    [Fact]
    public void Each_combination_of_conditions_has_one_shared_instance_with_its_values()
    {
        bool?[] values = [null, false, true];
        var seen = new HashSet<Conditions>(ReferenceEqualityComparer.Instance);
        foreach (bool? ready in values)
        {
            foreach (bool? serving in values)
            {
                foreach (bool? terminating in values)
                {
                    Conditions shared = Conditions.Shared(ready, serving, terminating);
                    Assert.Equal((ready, serving, terminating), (shared.Ready, shared.Serving, shared.Terminating));
                    Assert.Same(shared, Conditions.Shared(ready, serving, terminating));
                    seen.Add(shared);
                }
            }
        }
        Assert.Equal(27, seen.Count);
    }
}
