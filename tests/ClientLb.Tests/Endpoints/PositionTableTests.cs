using System.Net;
using ClientLb.Endpoints;
using CsCheck;

namespace ClientLb.Tests.Endpoints;

public class PositionTableTests
{
    private static Endpoint At(int n, int port = 80) => new(new IPAddress([10, (byte)(n >> 16), (byte)(n >> 8), (byte)n]), port);

    private static Endpoint[] Many(int count) => [.. Enumerable.Range(0, count).Select(i => At(i))];

    [Fact]
    public void Below_the_threshold_it_keeps_no_table_and_finds_by_scanning()
    {
        Endpoint[] items = Many(PositionTable<Endpoint, SelfAddress>.Threshold - 1);
        PositionTable<Endpoint, SelfAddress> table = default;
        table.Rebuild(items);

        Assert.Equal(0, table.Capacity);
        Assert.Equal(6, table.Find(items, At(6)));
        Assert.Equal(-1, table.Find(items, At(6, port: 81)));
    }

    [Fact]
    public void Every_held_endpoint_is_found_at_its_position_and_absent_ones_are_not_found()
    {
        // 5,000 addresses in 7,501 slots: long probe runs, and 1 in 256 fingerprints equal between neighbours.
        Endpoint[] items = Many(5000);
        PositionTable<Endpoint, SelfAddress> table = default;
        table.Rebuild(items);

        Assert.Equal(PositionTable<Endpoint, SelfAddress>.CapacityFor(5000), table.Capacity);
        for (int i = 0; i < items.Length; i++)
        {
            // A new object with the same host and port (other conditions) finds the same position.
            Assert.Equal(i, table.Find(items, new Endpoint(items[i].Address!, 80, new EndpointConditions(false, true, true))));
            Assert.Equal(-1, table.Find(items, At(i, port: 81)));
            Assert.Equal(-1, table.Find(items, At(i + 5000)));
        }
        Assert.Equal(-1, table.Find(items, Endpoint.ForDnsName("service.example", 80)));
    }

    [Fact]
    public void Endpoints_named_by_DNS_are_keyed_by_name_and_port()
    {
        Endpoint[] items = [.. Enumerable.Range(0, 40).Select(i => Endpoint.ForDnsName($"host-{i}.example", 443))];
        PositionTable<Endpoint, SelfAddress> table = default;
        table.Rebuild(items);

        Assert.Equal(17, table.Find(items, Endpoint.ForDnsName("host-17.example", 443)));
        Assert.Equal(-1, table.Find(items, Endpoint.ForDnsName("host-17.example", 80)));
        Assert.Equal(-1, table.Find(items, Endpoint.ForDnsName("host-40.example", 443)));
    }

    [Fact]
    public void Removal_leaves_the_others_of_a_probe_run_findable_and_its_slot_reusable()
    {
        Endpoint[] items = Many(2000);
        PositionTable<Endpoint, SelfAddress> table = default;
        table.Rebuild(items);
        for (int i = 0; i < items.Length; i += 2)
        {
            Assert.True(table.Remove(items, items[i]));
        }
        Assert.False(table.Remove(items, items[0])); // removed already
        Assert.False(table.Remove(items, At(9999)));

        Assert.Equal(1000, table.Count);
        for (int i = 0; i < items.Length; i++)
        {
            Assert.Equal(i % 2 == 0 ? -1 : i, table.Find(items, items[i]));
        }

        // Adding back without growing: tombstones are reused.
        int capacity = table.Capacity;
        for (int i = 0; i < items.Length; i += 2)
        {
            table.Add(items[i], i);
        }
        Assert.Equal(capacity, table.Capacity);
        for (int i = 0; i < items.Length; i++)
        {
            Assert.Equal(i, table.Find(items, items[i]));
        }
    }

    [Fact]
    public void Reserve_grows_the_table_for_what_comes_and_shrinks_it_after_most_left()
    {
        var items = new List<Endpoint>();
        PositionTable<Endpoint, SelfAddress> table = default;
        for (int i = 0; i < 3000; i++)
        {
            table.Reserve(items.ToArray(), items.Count + 1);
            table.Add(At(i), items.Count);
            items.Add(At(i));
        }
        Assert.InRange(table.Capacity, 3000 * 5 / 4, 3000 * 2);
        for (int i = 0; i < items.Count; i++)
        {
            Assert.Equal(i, table.Find(items.ToArray(), items[i]));
        }

        Endpoint[] few = items.Take(20).ToArray();
        table.Reserve(few, few.Length);
        Assert.Equal(PositionTable<Endpoint, SelfAddress>.CapacityFor(20), table.Capacity);
        Assert.Equal(19, table.Find(few, At(19)));
        Assert.Equal(-1, table.Find(few, At(20)));

        table.Reserve(few.AsSpan(0, 10), 10); // below the threshold: a scan
        Assert.Equal(0, table.Capacity);
        Assert.Equal(9, table.Find(few.AsSpan(0, 10), At(9)));
    }

    [Fact]
    public void Adding_past_the_room_reserved_is_refused()
    {
        Endpoint[] items = Many(20);
        PositionTable<Endpoint, SelfAddress> table = default;
        table.Rebuild(items);
        int room = table.Capacity * 4 / 5 - items.Length;
        for (int i = 0; i < room; i++)
        {
            table.Add(At(100 + i), 20 + i);
        }

        InvalidOperationException error = Assert.Throws<InvalidOperationException>(() => table.Add(At(99), 99));
        Assert.Contains("Reserve", error.Message);
    }

    [Fact]
    public void Move_points_an_endpoint_at_its_new_position()
    {
        Endpoint[] items = Many(30);
        PositionTable<Endpoint, SelfAddress> table = default;
        table.Rebuild(items);
        Assert.True(table.Remove(items, items[3]));
        Assert.True(table.Move(items, items[29], 3));
        items[3] = items[29];
        Endpoint[] next = items[..29];

        Assert.Equal(3, table.Find(next, At(29)));
        Assert.Equal(-1, table.Find(next, At(3)));
        Assert.False(table.Move(next, At(3), 0));
        Assert.Equal(29, table.Count);
    }

    /// <summary>
    /// Random additions (appended), removals (the last endpoint moved into the hole, as the snapshot builder and the
    /// balancer do) and reserves, the same as a Dictionary of endpoint to position after every step.
    /// </summary>
    [Fact]
    public void Random_edits_find_what_a_dictionary_finds()
    {
        Gen<(bool Add, int Address)> step = Gen.Select(Gen.Int[0, 99], Gen.Int[0, 399], static (kind, address) => (kind < 60, address));
        step.Array[1, 600].Sample(steps =>
        {
            var items = new List<Endpoint>();
            var expected = new Dictionary<Endpoint, int>(Endpoint.AddressComparer);
            PositionTable<Endpoint, SelfAddress> table = default;
            foreach ((bool add, int address) in steps)
            {
                Endpoint endpoint = At(address, 80 + address % 3);
                if (add && !expected.ContainsKey(endpoint))
                {
                    table.Reserve(items.ToArray(), items.Count + 1);
                    table.Add(endpoint, items.Count);
                    expected[endpoint] = items.Count;
                    items.Add(endpoint);
                }
                else if (!add && expected.Remove(endpoint, out int at))
                {
                    Endpoint[] before = items.ToArray();
                    table.Remove(before, endpoint);
                    Endpoint last = items[^1];
                    if (at != items.Count - 1)
                    {
                        table.Move(before, last, at);
                        expected[last] = at;
                        items[at] = last;
                    }
                    items.RemoveAt(items.Count - 1);
                    if (address % 4 == 0)
                    {
                        table.Reserve(items.ToArray(), items.Count); // otherwise tombstones stay until the next addition
                    }
                }
                Endpoint[] now = items.ToArray();
                for (int probe = 0; probe < 400; probe += 7)
                {
                    Endpoint key = At(probe, 80 + probe % 3);
                    Assert.Equal(expected.TryGetValue(key, out int position) ? position : -1, table.Find(now, key));
                    Assert.Equal(-1, table.Find(now, At(probe, 83)));
                }
                foreach ((Endpoint key, int position) in expected)
                {
                    Assert.Equal(position, table.Find(now, key));
                }
            }
            Assert.True(table.Count == expected.Count || table.Capacity == 0);
        }, iter: 300);
    }
}
