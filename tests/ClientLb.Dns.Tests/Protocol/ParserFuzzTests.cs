using System.Diagnostics;
using System.Net;
using ClientLb.Dns.Protocol;
using FsCheck;
using FsCheck.Fluent;

namespace ClientLb.Dns.Tests.Protocol;

/// <summary>
/// The decoder on hostile input: random bytes (FsCheck) and a time-bounded mutation loop over valid responses.
/// Each input must either decode or throw <see cref="DnsFormatException"/>; nothing else, no hang, and allocation
/// proportional to the input.
/// </summary>
public class ParserFuzzTests
{
    private static readonly TimeSpan Budget = TimeSpan.FromSeconds(3);

    private static IEnumerable<byte[]> Seeds()
    {
        yield return MessageRoundTripTests.SampleResponse().Encode();
        DnsMessage query = DnsMessage.CreateQuery(9, new DnsQuestion("big.prod.svc.cluster.local", DnsRecordType.A));
        yield return (DnsMessage.CreateResponse(query) with
        {
            Answers = Enumerable.Range(1, 50).Select(i => (DnsRecord)new DnsSrvRecord("_http._tcp.big.prod.svc.cluster.local", 5, 0, 1, 80, $"p{i}.big.prod.svc.cluster.local")).ToList(),
            Additionals = Enumerable.Range(1, 50).Select(i => (DnsRecord)new DnsARecord($"p{i}.big.prod.svc.cluster.local", 5, new IPAddress([10, 0, 0, (byte)i]))).ToList(),
        }).Encode();
        yield return (DnsMessage.CreateResponse(query, DnsResponseCode.NXDomain) with
        {
            Authorities = [new DnsSoaRecord("cluster.local", 5, "ns.dns.cluster.local", "hostmaster.cluster.local", 1, 2, 3, 4, 5)],
        }).Encode();
    }

    /// <summary>Decodes, returning whether it parsed; any exception other than DnsFormatException fails the test, as does excess allocation.</summary>
    private static bool DecodeSafely(byte[] input)
    {
        long before = GC.GetAllocatedBytesForCurrentThread();
        bool parsed;
        try
        {
            DnsMessage.Decode(input);
            parsed = true;
        }
        catch (DnsFormatException)
        {
            parsed = false;
        }
        long allocated = GC.GetAllocatedBytesForCurrentThread() - before;
        // Names are at most 255 bytes and every record consumes at least 11 input bytes, so output is linear in input.
        long limit = 32_768 + 256L * input.Length;
        Assert.True(allocated <= limit, $"decoding {input.Length} bytes allocated {allocated} bytes (limit {limit}): {Convert.ToHexString(input)}");
        return parsed;
    }

    [Fact]
    public void Random_bytes_decode_or_fail_with_DnsFormatException()
    {
        Gen<byte[]> gen = Gen.Choose(0, 600).SelectMany(length => Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), length));
        Property property = Prop.ForAll(Arb.From(gen), bytes =>
        {
            DecodeSafely(bytes);
            return true;
        });

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(2_000), property);
    }

    [Fact]
    public void Random_headers_in_front_of_valid_bodies_decode_or_fail_cleanly()
    {
        byte[][] seeds = Seeds().ToArray();
        Gen<byte[]> gen =
            from seed in Gen.Elements(seeds)
            from counts in Gen.ArrayOf(Gen.Choose(0, 255).Select(b => (byte)b), 8)
            select (byte[])[.. seed[..4], .. counts, .. seed[12..]];

        Check.One(Config.QuickThrowOnFailure.WithMaxTest(1_000), Prop.ForAll(Arb.From(gen), bytes => DecodeSafely(bytes) || true));
    }

    [Fact]
    public async Task Mutating_valid_responses_for_a_bounded_time_never_crashes_hangs_or_overallocates()
    {
        byte[][] seeds = Seeds().ToArray();
        foreach (byte[] seed in seeds)
        {
            Assert.True(DecodeSafely(seed), "every seed must be valid to begin with");
        }
        var random = new Random(20261121);
        int runs = 0, parsed = 0;
        // Run on another thread so that a hang fails the test at the deadline instead of blocking the suite.
        Task loop = Task.Run(() =>
        {
            var clock = Stopwatch.StartNew();
            while (clock.Elapsed < Budget)
            {
                byte[] input = Mutate(seeds[random.Next(seeds.Length)], random);
                parsed += DecodeSafely(input) ? 1 : 0;
                runs++;
            }
        });
        await loop.WaitAsync(Budget + TimeSpan.FromSeconds(10));

        Assert.True(runs > 1_000, $"only {runs} mutations ran");
        Assert.InRange(parsed, 1, runs - 1);
    }

    private static byte[] Mutate(byte[] seed, Random random)
    {
        byte[] bytes = (byte[])seed.Clone();
        switch (random.Next(6))
        {
            case 0:
                return bytes[..random.Next(bytes.Length)];
            case 1:
                for (int i = random.Next(1, 8); i > 0; i--)
                {
                    bytes[random.Next(bytes.Length)] = (byte)random.Next(256);
                }
                return bytes;
            case 2:
                // Plant a compression pointer anywhere, often at or after itself: loops and forward references.
                int at = random.Next(12, bytes.Length - 1);
                int target = random.Next(2) == 0 ? at : random.Next(bytes.Length);
                bytes[at] = (byte)(0xC0 | (target >> 8));
                bytes[at + 1] = (byte)target;
                return bytes;
            case 3:
                // Oversized lengths: label length bytes and RDLENGTHs set high.
                int where = random.Next(12, bytes.Length);
                bytes[where] = (byte)random.Next(0x30, 0x40);
                return bytes;
            case 4:
                byte[] longer = new byte[Math.Min(65535, bytes.Length * random.Next(2, 40))];
                for (int i = 0; i < longer.Length; i++)
                {
                    longer[i] = bytes[i % bytes.Length];
                }
                longer[7] = 0xFF;
                return longer;
            default:
                bytes[random.Next(4, 12)] = 0xFF;
                return bytes;
        }
    }
}
