using System.Net;
using ClientLb.Endpoints;

namespace ClientLb.Tests.Endpoints;

public class EndpointTests
{
    [Theory]
    [InlineData("127.0.0.2:5001", "127.0.0.2", 5001, null, "127.0.0.2:5001")]
    [InlineData("http://127.0.0.3:5001", "127.0.0.3", 5001, "http", "127.0.0.3:5001")]
    [InlineData("https://127.0.0.3", "127.0.0.3", 443, "https", "127.0.0.3:443")]
    [InlineData("http://127.0.0.3/", "127.0.0.3", 80, "http", "127.0.0.3:80")]
    [InlineData("[::1]:8080", "::1", 8080, null, "[::1]:8080")]
    [InlineData("localhost:5001", "localhost", 5001, null, "localhost:5001")]
    public void Parses_addresses(string text, string host, int port, string? scheme, string authority)
    {
        Endpoint endpoint = Endpoint.Parse(text);
        Assert.Equal(host, endpoint.Host);
        Assert.Equal(port, endpoint.Port);
        Assert.Equal(scheme, endpoint.Scheme);
        Assert.Equal(authority, endpoint.Authority);
        Assert.True(endpoint.Conditions.Ready);
    }

    [Fact]
    public void The_address_comparer_identifies_an_endpoint_by_host_and_port_only()
    {
        IEqualityComparer<Endpoint> comparer = Endpoint.AddressComparer;
        var ready = new Endpoint(IPAddress.Parse("10.0.0.1"), 80, zone: "a");
        var terminating = new Endpoint(IPAddress.Parse("10.0.0.1"), 80, new EndpointConditions(false, true, true), zone: "b");
        Assert.True(comparer.Equals(ready, terminating));
        Assert.Equal(comparer.GetHashCode(ready), comparer.GetHashCode(terminating));
        Assert.NotEqual(ready, terminating); // value equality still sees the other fields
        Assert.False(comparer.Equals(ready, new Endpoint(IPAddress.Parse("10.0.0.1"), 81)));
        Assert.False(comparer.Equals(ready, new Endpoint(IPAddress.Parse("10.0.0.2"), 80)));
        Assert.False(comparer.Equals(Endpoint.Parse("[::1]:80"), Endpoint.Parse("127.0.0.1:80")));
        Assert.True(comparer.Equals(Endpoint.Parse("[::1]:80"), Endpoint.Parse("http://[::1]:80")));
        Assert.True(comparer.Equals(Endpoint.Parse("Example.com:80"), Endpoint.Parse("example.com:80")));
        Assert.Equal(comparer.GetHashCode(Endpoint.Parse("Example.com:80")), comparer.GetHashCode(Endpoint.Parse("example.com:80")));
        Assert.False(comparer.Equals(Endpoint.Parse("example.com:80"), Endpoint.Parse("example.org:80")));
        Assert.False(comparer.Equals(ready, null));
    }

    [Fact]
    public void The_texts_and_socket_endpoint_made_on_first_use_are_kept()
    {
        Endpoint endpoint = new(IPAddress.Parse("fd00::1"), 8080);
        Assert.Equal("[fd00::1]:8080", endpoint.Authority);
        Assert.Same(endpoint.Authority, endpoint.Authority);
        Assert.Same(endpoint.Host, endpoint.Host);
        Assert.Same(endpoint.EndPoint, endpoint.EndPoint);
        Assert.Equal(new IPEndPoint(IPAddress.Parse("fd00::1"), 8080), endpoint.EndPoint);
        Endpoint changed = endpoint.WithConditions(new EndpointConditions(false, false, true));
        Assert.Equal("[fd00::1]:8080", changed.Authority);
        Assert.True(changed.SameAddress(endpoint));
        Assert.Equal("localhost:5001", Endpoint.ForDnsName("LocalHost", 5001).WithConditions(new EndpointConditions(false, false, false)).Authority);
    }

    [Fact]
    public void An_endpoint_keeps_its_details_after_it_is_called_and_a_copy_shares_both()
    {
        var address = IPAddress.Parse("10.1.2.3");
        _ = new Endpoint(address, 80); // type loaded, constructor compiled
        long before = GC.GetAllocatedBytesForCurrentThread();
        var plain = new Endpoint(address, 80);
        Assert.Equal(56, GC.GetAllocatedBytesForCurrentThread() - before); // 64 with the details and the texts in two fields
        Assert.Equal("10.1.2.3:80", plain.Authority);
        Assert.Equal(1, plain.Weight);
        Assert.Null(plain.Scheme);

        var detailed = new Endpoint(address, 8443, hostname: "pod-a", weight: 3, scheme: "https", zoneHints: ["z1"], nodeHints: ["n1"]);
        Endpoint copyBefore = detailed.WithConditions(new EndpointConditions(false, true, true));
        Assert.Equal("10.1.2.3:8443", detailed.Authority);
        Assert.Equal(new IPEndPoint(address, 8443), detailed.EndPoint);
        Endpoint copyAfter = detailed.WithConditions(new EndpointConditions(false, true, true));
        foreach (Endpoint endpoint in new[] { detailed, copyBefore, copyAfter })
        {
            Assert.Equal(("pod-a", 3, "https"), (endpoint.Hostname, endpoint.Weight, endpoint.Scheme));
            Assert.Equal(["z1"], endpoint.ZoneHints);
            Assert.Equal(["n1"], endpoint.NodeHints);
            Assert.Equal("10.1.2.3:8443", endpoint.Authority);
        }
        Assert.Same(detailed.Authority, copyAfter.Authority);
        Assert.Equal(copyBefore, copyAfter);

        Endpoint named = Endpoint.ForDnsName("api.example", 443, scheme: "https");
        Assert.Equal("api.example:443", named.Authority);
        Assert.Equal(("api.example", "https"), (named.Host, named.Scheme));
        Assert.Equal(new DnsEndPoint("api.example", 443), named.EndPoint);
    }

    [Fact]
    public void Ip_endpoints_connect_to_the_address_dns_endpoints_resolve()
    {
        Assert.IsType<IPEndPoint>(Endpoint.Parse("127.0.0.2:1").EndPoint);
        Assert.IsType<DnsEndPoint>(Endpoint.Parse("localhost:1").EndPoint);
    }

    [Theory]
    [InlineData("127.0.0.2", "port is missing")]
    [InlineData("127.0.0.2:abc", "'abc' is not a number")]
    [InlineData("127.0.0.2:0", "outside 1-65535")]
    [InlineData("127.0.0.2:65536", "outside 1-65535")]
    [InlineData("ftp://127.0.0.2:21", "scheme 'ftp'")]
    [InlineData("::1:80", "brackets")]
    [InlineData("[::1:80", "closing ']'")]
    [InlineData("http://127.0.0.2:80/path", "path")]
    [InlineData("bad host!:80", "neither an IP address nor a valid DNS name")]
    [InlineData("", "empty")]
    public void Rejects_bad_endpoints_naming_the_input(string text, string reason)
    {
        FormatException error = Assert.Throws<FormatException>(() => Endpoint.Parse(text));
        Assert.Contains($"'{text}'", error.Message);
        Assert.Contains(reason, error.Message);
    }

    [Fact]
    public void Api_conditions_follow_kubernetes_nil_rules()
    {
        Assert.Equal(new EndpointConditions(true, true, false), EndpointConditions.FromApi(null, null, null));
        Assert.Equal(new EndpointConditions(false, false, false), EndpointConditions.FromApi(false, null, null));
        Assert.Equal(new EndpointConditions(false, true, true), EndpointConditions.FromApi(false, true, true));
    }
}
