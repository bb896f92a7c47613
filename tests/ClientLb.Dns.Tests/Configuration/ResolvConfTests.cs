using System.Net;
using ClientLb.Dns.Configuration;
using ClientLb.Dns.Resolution;
using Microsoft.Extensions.Options;

namespace ClientLb.Dns.Tests.Configuration;

public class ResolvConfTests
{
    private const string PodResolvConf = """
        # written by the kubelet
        search prod.svc.cluster.local svc.cluster.local cluster.local
        nameserver 10.96.0.10
        nameserver fd00::a
        options ndots:5 timeout:2 attempts:3 rotate edns0
        """;

    [Fact]
    public void A_pod_resolv_conf_is_read_as_glibc_reads_it()
    {
        ResolvConf conf = ResolvConf.Parse(PodResolvConf, "/etc/resolv.conf");

        Assert.Equal([IPAddress.Parse("10.96.0.10"), IPAddress.Parse("fd00::a")], conf.Nameservers);
        Assert.Equal(["prod.svc.cluster.local", "svc.cluster.local", "cluster.local"], conf.Search);
        Assert.Equal(5, conf.Ndots);
        Assert.Equal(TimeSpan.FromSeconds(2), conf.Timeout);
        Assert.Equal(3, conf.Attempts);
        Assert.True(conf.Rotate);
        Assert.Empty(conf.Warnings);
    }

    [Fact]
    public void Defaults_apply_when_the_file_says_nothing()
    {
        ResolvConf conf = ResolvConf.Parse("nameserver 127.0.0.1\n");

        Assert.Equal(1, conf.Ndots);
        Assert.Equal(TimeSpan.FromSeconds(5), conf.Timeout);
        Assert.Equal(2, conf.Attempts);
        Assert.False(conf.Rotate);
        Assert.Empty(conf.Search);
    }

    [Fact]
    public void Bad_lines_are_skipped_with_a_warning_naming_file_and_line()
    {
        ResolvConf conf = ResolvConf.Parse("nameserver not-an-ip\nbogus word\noptions ndots:99 timeout:x\nnameserver 1.1.1.1\nnameserver 1.1.1.2\nnameserver 1.1.1.3\nnameserver 1.1.1.4\n", "/tmp/r.conf");

        Assert.Equal(3, conf.Nameservers.Count);
        Assert.Equal(15, conf.Ndots);
        Assert.Equal(TimeSpan.FromSeconds(5), conf.Timeout);
        Assert.Contains(conf.Warnings, w => w.StartsWith("/tmp/r.conf:1:", StringComparison.Ordinal) && w.Contains("not-an-ip", StringComparison.Ordinal));
        Assert.Contains(conf.Warnings, w => w.StartsWith("/tmp/r.conf:2:", StringComparison.Ordinal) && w.Contains("bogus", StringComparison.Ordinal));
        Assert.Contains(conf.Warnings, w => w.StartsWith("/tmp/r.conf:3:", StringComparison.Ordinal) && w.Contains("ndots:99", StringComparison.Ordinal));
        Assert.Contains(conf.Warnings, w => w.StartsWith("/tmp/r.conf:3:", StringComparison.Ordinal) && w.Contains("timeout:x", StringComparison.Ordinal));
        Assert.Contains(conf.Warnings, w => w.StartsWith("/tmp/r.conf:7:", StringComparison.Ordinal) && w.Contains("1.1.1.4", StringComparison.Ordinal));
    }

    [Fact]
    public void The_last_search_or_domain_line_wins()
    {
        Assert.Equal(["b.example"], ResolvConf.Parse("search a.example x.example\ndomain b.example.\n").Search);
        Assert.Equal(["c.example", "d.example"], ResolvConf.Parse("domain b.example\nsearch c.example d.example\n").Search);
    }

    [Fact]
    public void A_missing_file_names_the_path()
    {
        IOException ex = Assert.Throws<IOException>(() => ResolvConf.Load("/nonexistent/resolv.conf"));
        Assert.Contains("/nonexistent/resolv.conf", ex.Message, StringComparison.Ordinal);
    }

    [Fact]
    public void Options_override_the_file_part_by_part()
    {
        string path = Path.GetTempFileName();
        File.WriteAllText(path, PodResolvConf);
        try
        {
            DnsResolverSettings settings = DnsResolverSettings.FromOptions(new DnsSourceOptions
            {
                ResolvConfPath = path,
                Servers = ["127.0.0.53:5353", "[::1]:53", "127.0.0.9"],
                Attempts = 1,
            });

            Assert.Equal([IPEndPoint.Parse("127.0.0.53:5353"), IPEndPoint.Parse("[::1]:53"), IPEndPoint.Parse("127.0.0.9:53")], settings.Servers);
            Assert.Equal(5, settings.Ndots);
            Assert.Equal(3, settings.Search.Count);
            Assert.Equal(1, settings.Attempts);
            Assert.Equal(TimeSpan.FromSeconds(2), settings.Timeout);
            Assert.Equal((ushort)1232, settings.UdpPayloadSize);
        }
        finally
        {
            File.Delete(path);
        }
    }

    [Fact]
    public void Servers_in_options_make_the_file_optional()
    {
        DnsResolverSettings settings = DnsResolverSettings.FromOptions(new DnsSourceOptions { ResolvConfPath = "/nonexistent/resolv.conf", Servers = ["127.0.0.1"], UdpPayloadSize = 0 });

        Assert.Single(settings.Servers);
        Assert.Null(settings.UdpPayloadSize);
        Assert.Throws<IOException>(() => DnsResolverSettings.FromOptions(new DnsSourceOptions { ResolvConfPath = "/nonexistent/resolv.conf" }));
    }

    [Theory]
    [InlineData("dns.example:53", "not an IP address")]
    [InlineData("127.0.0.1:99999", "99999")]
    [InlineData("127.0.0.1:0", "port 0")]
    [InlineData("", "empty")]
    [InlineData("010.0.0.1", "a lenient parser reads it as 8.0.0.1")] // issue 15: the one address rule
    [InlineData("10.1:53", "not a canonical dotted-quad")]
    [InlineData("[2001:DB8::1]:53", "RFC 5952: 2001:db8::1")]
    public void Bad_server_addresses_are_rejected_with_the_text_quoted(string text, string reason)
    {
        FormatException ex = Assert.Throws<FormatException>(() => DnsServerAddress.Parse(text));
        Assert.Contains(reason, ex.Message, StringComparison.Ordinal);
    }

    [Theory]
    [InlineData("10.0.0.10", "10.0.0.10:53")]
    [InlineData("127.53.0.1:5353", "127.53.0.1:5353")]
    [InlineData("fd00::10", "[fd00::10]:53")]
    [InlineData("[fd00::10]:5353", "[fd00::10]:5353")]
    public void Server_addresses_parse_with_an_optional_port(string text, string expected) =>
        Assert.Equal(expected, DnsServerAddress.Parse(text).ToString());

    [Fact]
    public void The_search_list_is_applied_in_glibc_order()
    {
        string[] search = ["prod.svc.cluster.local", "svc.cluster.local", "cluster.local"];

        Assert.Equal(["web.prod.prod.svc.cluster.local", "web.prod.svc.cluster.local", "web.prod.cluster.local", "web.prod"], SearchList.Candidates("web.prod", search, 5));
        Assert.Equal(["a.b.c.d.e.f", "a.b.c.d.e.f.prod.svc.cluster.local", "a.b.c.d.e.f.svc.cluster.local", "a.b.c.d.e.f.cluster.local"], SearchList.Candidates("a.b.c.d.e.f", search, 5));
        Assert.Equal(["web.prod", "web.prod.prod.svc.cluster.local", "web.prod.svc.cluster.local", "web.prod.cluster.local"], SearchList.Candidates("web.prod", search, 1));
        Assert.Equal(["web.prod.svc.cluster.local"], SearchList.Candidates("web.prod.svc.cluster.local.", search, 5));
    }

    [Fact]
    public void The_options_validator_names_each_bad_option()
    {
        var options = new DnsSourceOptions
        {
            Servers = ["nope"],
            Ndots = 16,
            UdpPayloadSize = 100,
            MinRefreshInterval = TimeSpan.FromSeconds(10),
            MaxRefreshInterval = TimeSpan.FromSeconds(5),
            SrvProtocol = "sctp",
        };

        ValidateOptionsResult result = new DnsSourceOptionsValidator().Validate(null, options);

        Assert.True(result.Failed);
        string all = string.Join("\n", result.Failures!);
        foreach (string name in new[] { "Servers", "Ndots (16)", "UdpPayloadSize (100)", "MaxRefreshInterval", "SrvProtocol ('sctp')" })
        {
            Assert.Contains("DnsSourceOptions." + name, all, StringComparison.Ordinal);
        }
        Assert.True(new DnsSourceOptionsValidator().Validate(null, new DnsSourceOptions()).Succeeded);
    }
}
