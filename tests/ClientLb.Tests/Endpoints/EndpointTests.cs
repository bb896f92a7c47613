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
        var error = Assert.Throws<FormatException>(() => Endpoint.Parse(text));
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
