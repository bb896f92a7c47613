using System.Net;
using ClientLb.Dns.Protocol;

namespace ClientLb.Dns.Tests.Protocol;

public class MessageRoundTripTests
{
    internal static DnsMessage SampleResponse() => new()
    {
        Id = 0xBEEF,
        IsResponse = true,
        IsAuthoritative = true,
        RecursionDesired = true,
        RecursionAvailable = true,
        ResponseCode = DnsResponseCode.NoError,
        Questions = [new DnsQuestion("_http._tcp.web.prod.svc.cluster.local", DnsRecordType.SRV)],
        Answers =
        [
            new DnsSrvRecord("_http._tcp.web.prod.svc.cluster.local", 30, 0, 10, 8080, "web-0.web.prod.svc.cluster.local"),
            new DnsSrvRecord("_http._tcp.web.prod.svc.cluster.local", 30, 1, 0, 8081, "web-1.web.prod.svc.cluster.local"),
            new DnsCnameRecord("alias.prod.svc.cluster.local", 5, "web.prod.svc.cluster.local"),
            new DnsTxtRecord("web.prod.svc.cluster.local", 7, ["hello", "wor\\ld"]),
            new DnsUnknownRecord("web.prod.svc.cluster.local", 9, (DnsRecordType)99, new byte[] { 1, 2, 3 }),
        ],
        Authorities = [new DnsSoaRecord("cluster.local", 60, "ns.dns.cluster.local", "hostmaster.cluster.local", 7, 7200, 1800, 86400, 30)],
        Additionals =
        [
            new DnsARecord("web-0.web.prod.svc.cluster.local", 30, IPAddress.Parse("10.0.0.1")),
            new DnsAaaaRecord("web-0.web.prod.svc.cluster.local", 30, IPAddress.Parse("fd00::1")),
        ],
        Edns = new DnsEdns(1232, Options: [new DnsEdnsOption(10, new byte[] { 9, 9, 9, 9, 9, 9, 9, 9 })]),
    };

    [Fact]
    public void A_response_with_every_supported_type_survives_encode_and_decode()
    {
        DnsMessage original = SampleResponse();

        DnsMessage decoded = DnsMessage.Decode(original.Encode());

        Assert.Equal(original.Id, decoded.Id);
        Assert.True(decoded.IsResponse && decoded.IsAuthoritative && decoded.RecursionDesired && decoded.RecursionAvailable);
        Assert.False(decoded.IsTruncated);
        Assert.Equal(original.Questions, decoded.Questions);
        Assert.Equal(original.Answers.Take(3), decoded.Answers.Take(3));
        Assert.Equal(["hello", "wor\\ld"], ((DnsTxtRecord)decoded.Answers[3]).Strings);
        Assert.Equal(new byte[] { 1, 2, 3 }, ((DnsUnknownRecord)decoded.Answers[4]).Data.ToArray());
        Assert.Equal(original.Authorities, decoded.Authorities);
        Assert.Equal(original.Additionals, decoded.Additionals);
        Assert.Equal(1232, decoded.Edns!.UdpPayloadSize);
        Assert.Equal(new byte[] { 9, 9, 9, 9, 9, 9, 9, 9 }, decoded.Edns.Options.Single().Data.ToArray());
        Assert.Equal(30u, ((DnsSoaRecord)decoded.Authorities[0]).NegativeTtl);
    }

    [Fact]
    public void Names_are_compressed_except_SRV_targets()
    {
        DnsMessage message = SampleResponse();
        byte[] bytes = message.Encode();

        // The owner of the first answer repeats the question name: a pointer to offset 12 (0xC00C).
        int questionEnd = 12 + "_http._tcp.web.prod.svc.cluster.local".Length + 2 + 4;
        Assert.Equal(0xC0, bytes[questionEnd]);
        Assert.Equal(12, bytes[questionEnd + 1]);
        // The SRV target is written out in full (RFC 2782), so its first label appears literally.
        int rdata = questionEnd + 2 + 10 + 6;
        Assert.Equal((byte)"web-0".Length, bytes[rdata]);
        Assert.Equal("web-0"u8.ToArray(), bytes[(rdata + 1)..(rdata + 6)]);
        Assert.True(bytes.Length < 400, $"compressed message is {bytes.Length} bytes");
    }

    [Fact]
    public void A_query_carries_one_question_RD_and_EDNS_1232()
    {
        DnsMessage query = DnsMessage.CreateQuery(42, new DnsQuestion("web.prod.svc.cluster.local", DnsRecordType.AAAA));
        byte[] bytes = query.Encode();

        Assert.Equal(new byte[] { 0, 42, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 1 }, bytes[..12]);
        DnsMessage decoded = DnsMessage.Decode(bytes);
        Assert.Equal(DnsEdns.RecommendedUdpPayloadSize, decoded.Edns!.UdpPayloadSize);
        Assert.Equal(DnsRecordType.AAAA, decoded.Questions.Single().Type);
    }

    [Fact]
    public void Extended_response_codes_travel_in_the_OPT_record()
    {
        DnsMessage response = DnsMessage.CreateResponse(DnsMessage.CreateQuery(1, new DnsQuestion("x.cluster.local", DnsRecordType.A)), DnsResponseCode.BadVers);

        Assert.Equal(DnsResponseCode.BadVers, DnsMessage.Decode(response.Encode()).ResponseCode);
        Assert.Throws<InvalidOperationException>(() => (response with { Edns = null }).Encode());
    }

    [Fact]
    public void EncodeTruncated_keeps_the_question_and_sets_TC_when_the_answer_does_not_fit()
    {
        DnsMessage query = DnsMessage.CreateQuery(7, new DnsQuestion("big.prod.svc.cluster.local", DnsRecordType.A));
        DnsMessage response = DnsMessage.CreateResponse(query) with
        {
            Answers = Enumerable.Range(1, 200).Select(i => (DnsRecord)new DnsARecord("big.prod.svc.cluster.local", 5, new IPAddress([10, 0, (byte)(i / 250), (byte)(i % 250)]))).ToList(),
        };

        byte[] udp = response.EncodeTruncated(512);
        DnsMessage decoded = DnsMessage.Decode(udp);

        Assert.True(udp.Length <= 512);
        Assert.True(decoded.IsTruncated);
        Assert.Empty(decoded.Answers);
        Assert.Equal("big.prod.svc.cluster.local", decoded.Questions.Single().Name);
        Assert.Equal(200, DnsMessage.Decode(response.EncodeTruncated(65535)).Answers.Count);
    }

    [Theory]
    [InlineData("a..b", "empty label")]
    [InlineData(".a", "empty label")]
    [InlineData("bad\\", "lone")]
    [InlineData("x\\25", "three digits")]
    [InlineData("x\\300", "above 255")]
    [InlineData("caf\u00e9.example", "non-ASCII")]
    public void Invalid_names_are_rejected_when_encoding_with_the_name_quoted(string name, string reason)
    {
        ArgumentException ex = Assert.Throws<ArgumentException>(() => DnsMessage.CreateQuery(1, new DnsQuestion(name, DnsRecordType.A)).Encode());
        Assert.Contains(name, ex.Message, StringComparison.Ordinal);
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Overlong_labels_and_names_are_rejected_when_encoding()
    {
        string longLabel = new('a', 64);
        string longName = string.Join('.', Enumerable.Repeat(new string('b', 60), 5));

        Assert.Contains("longer than 63", Assert.Throws<ArgumentException>(() => DnsName.ToLabels(longLabel + ".x")).Message, StringComparison.Ordinal);
        Assert.Contains("more than 255", Assert.Throws<ArgumentException>(() => DnsName.ToLabels(longName)).Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Label_bytes_that_are_not_printable_round_trip_through_escapes()
    {
        string name = "we\\.ird\\032label\\\\x.example";
        DnsMessage query = DnsMessage.CreateQuery(1, new DnsQuestion(name, DnsRecordType.A));

        DnsMessage decoded = DnsMessage.Decode(query.Encode());

        Assert.Equal(name, decoded.Questions[0].Name);
        Assert.Equal(2, DnsName.ToLabels(name).Count);
        Assert.Equal(1, DnsName.CountDots(name));
        Assert.True(DnsName.IsRooted("a\\\\."));
        Assert.False(DnsName.IsRooted("a\\."));
    }
}
