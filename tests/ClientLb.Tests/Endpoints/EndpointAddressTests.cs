using System.Net;
using ClientLb.Endpoints;
using CsCheck;

namespace ClientLb.Tests.Endpoints;

/// <summary>The one address rule (issue 15, defects 1 and 2): canonical text only, and only addresses a backend can have.</summary>
public sealed class EndpointAddressTests
{
    [Theory]
    [InlineData("010.0.0.1", "8.0.0.1")] // octal to a lenient parser
    [InlineData("10.1", "10.0.0.1")]
    [InlineData("0x0a000001", "10.0.0.1")]
    [InlineData("0x0a.0.0.1", "10.0.0.1")]
    [InlineData("167772161", "10.0.0.1")]
    [InlineData("10.0.0.01", "10.0.0.1")]
    public void Non_canonical_IPv4_is_refused_naming_what_a_lenient_parser_would_read(string text, string lenient)
    {
        Assert.True(IPAddress.TryParse(text, out IPAddress? read));
        Assert.Equal(lenient, read.ToString());
        Assert.False(EndpointAddress.TryParse(text, allowLoopback: true, out _, out string? error));
        Assert.Contains($"'{text}' is not a canonical dotted-quad IPv4 address", error);
        Assert.Contains(lenient, error);
    }

    [Theory]
    [InlineData("10.0.0.256", "is not an IP address")]
    [InlineData("10.0.0.1 ", "is not an IP address")]
    [InlineData("10.0.0.1; flush ruleset", "is not an IP address")]
    [InlineData("", "empty")]
    [InlineData("2001:DB8::1", "canonical IPv6 form (RFC 5952: 2001:db8::1)")]
    [InlineData("2001:db8:0:0:1:0:0:1", "RFC 5952: 2001:db8::1:0:0:1")]
    [InlineData("2001:db8::0:1", "RFC 5952: 2001:db8::1")]
    [InlineData("2001:0db8::1", "RFC 5952: 2001:db8::1")]
    [InlineData("fe80::1%eth0", "is not an IPv6 address")]
    [InlineData("::ffff:10.1.1.1", "IPv4-mapped")]
    [InlineData("::ffff:a01:101", "IPv4-mapped")]
    public void Malformed_or_non_canonical_text_is_refused(string text, string reason)
    {
        Assert.False(EndpointAddress.TryParse(text, allowLoopback: true, out IPAddress? address, out string? error));
        Assert.Null(address);
        Assert.Contains(reason, error);
    }

    [Theory]
    [InlineData("0.0.0.0", "unspecified")]
    [InlineData("0.1.2.3", "unspecified")]
    [InlineData("255.255.255.255", "broadcast")]
    [InlineData("240.0.0.1", "reserved")]
    [InlineData("224.0.0.1", "multicast")]
    [InlineData("239.255.255.250", "multicast")]
    [InlineData("169.254.169.254", "link-local cloud metadata address")]
    [InlineData("169.254.1.1", "link-local")]
    [InlineData("::", "unspecified")]
    [InlineData("fe80::1", "link-local")]
    [InlineData("febf::1", "link-local")]
    [InlineData("ff02::1", "multicast")]
    public void Addresses_a_backend_cannot_have_are_refused_even_with_loopback_allowed(string text, string reason)
    {
        Assert.True(EndpointAddress.TryParseCanonical(text, out _, out _));
        Assert.False(EndpointAddress.TryParse(text, allowLoopback: true, out _, out string? error));
        Assert.Contains(reason, error);
    }

    [Theory]
    [InlineData("127.0.0.1")]
    [InlineData("127.244.1.2")]
    [InlineData("::1")]
    public void Loopback_is_used_only_where_the_options_allow_it(string text)
    {
        Assert.False(EndpointAddress.TryParse(text, allowLoopback: false, out _, out string? error));
        Assert.Contains("loopback", error);
        Assert.True(EndpointAddress.TryParse(text, allowLoopback: true, out IPAddress? address, out _));
        Assert.Equal(IPAddress.Parse(text), address);
    }

    [Theory]
    [InlineData("10.0.0.1")]
    [InlineData("192.168.255.254")]
    [InlineData("100.64.0.1")]
    [InlineData("2001:db8::1")]
    [InlineData("2001:db8::1:0:0:1")]
    [InlineData("2001:db8:0:1:1:1:1:1")]
    [InlineData("fd00::5")]
    [InlineData("fec0::1")] // site-local is deprecated but not link-local
    public void Canonical_unicast_addresses_are_accepted(string text)
    {
        Assert.True(EndpointAddress.TryParse(text, allowLoopback: false, out IPAddress? address, out string? error), error);
        Assert.Equal(IPAddress.Parse(text), address);
    }

    [Fact]
    public void Configuration_endpoints_follow_the_same_rule()
    {
        Assert.False(Endpoint.TryParse("010.0.0.1:80", out _, out string? error));
        Assert.Contains("'010.0.0.1' is not a canonical dotted-quad IPv4 address (a lenient parser reads it as 8.0.0.1)", error);
        Assert.False(Endpoint.TryParse("http://169.254.169.254", out _, out error));
        Assert.Contains("metadata", error);
        Assert.False(Endpoint.TryParse("[::ffff:10.0.0.1]:80", out _, out error));
        Assert.Contains("IPv4-mapped", error);
        Assert.True(Endpoint.TryParse("127.0.0.1:5001", out Endpoint? local, out _)); // the operator's own configuration may name loopback
        Assert.Equal("127.0.0.1:5001", local.Authority);
        Assert.True(Endpoint.TryParse("localhost:5001", out Endpoint? name, out _));
        Assert.Null(name.Address);
        Assert.Throws<ArgumentException>(() => Endpoint.ForDnsName("10.1", 80));
    }

    [Fact]
    public void A_hostile_input_is_quoted_escaped_and_cut()
    {
        string hostile = "10.0.0.1\n" + new string('9', 500);
        Assert.False(EndpointAddress.TryParse(hostile, allowLoopback: false, out _, out string? error));
        Assert.Contains("\\u000a", error);
        Assert.Contains("(509 characters)", error);
        Assert.True(error.Length < 200, error);
    }

    // Property: every IPv4 address has exactly one accepted text, its dotted quad, and that text reads back to it.
    [Fact]
    public void Every_IPv4_address_round_trips_through_its_dotted_quad_only() =>
        Gen.UInt.Sample(value =>
        {
            var address = new IPAddress([(byte)(value >> 24), (byte)(value >> 16), (byte)(value >> 8), (byte)value]);
            string text = address.ToString();
            return EndpointAddress.TryParseCanonical(text, out IPAddress? read, out _) && read.Equals(address)
                && !EndpointAddress.TryParseCanonical("0" + text, out _, out _)
                && !EndpointAddress.TryParseCanonical(text + ".0", out _, out _);
        }, iter: 20_000);

    // Property: every IPv6 address's RFC 5952 text is accepted and reads back to it; the uppercase and fully written
    // forms are refused unless they happen to be the same text.
    [Fact]
    public void Every_IPv6_address_round_trips_through_its_RFC_5952_text_only() =>
        Gen.Byte.Array[16].Sample(bytes =>
        {
            var address = new IPAddress(bytes);
            string canonical = EndpointAddress.FormatIPv6(address);
            string full = string.Join(':', Enumerable.Range(0, 8).Select(i => ((bytes[2 * i] << 8) | bytes[(2 * i) + 1]).ToString("x4", System.Globalization.CultureInfo.InvariantCulture)));
            bool accepted = EndpointAddress.TryParseCanonical(canonical, out IPAddress? read, out _);
            if (address.IsIPv4MappedToIPv6)
            {
                return !accepted;
            }
            return accepted && read!.Equals(address) && IPAddress.Parse(canonical).Equals(address)
                && EndpointAddress.TryParseCanonical(full, out _, out _) == (full == canonical)
                && EndpointAddress.TryParseCanonical(canonical.ToUpperInvariant(), out _, out _) == (canonical.ToUpperInvariant() == canonical);
        }, iter: 20_000);

    // Property: whatever the text, the parser answers (never throws) and accepts only what IPAddress.Parse reads the same.
    [Fact]
    public void Arbitrary_text_is_answered_without_exceptions() =>
        Gen.OneOf(Gen.String, Gen.String["0123456789abcdefABCDEFx.:%"]).Sample(text =>
        {
            bool ok = EndpointAddress.TryParseCanonical(text, out IPAddress? address, out string? error);
            return ok ? IPAddress.Parse(text).Equals(address) && EndpointAddress.CheckUsable(address, false) is var _ : error!.Length > 0;
        }, iter: 50_000);
}
