using System.Net;
using ClientLb.Dns.Client;
using ClientLb.Dns.Protocol;
using ClientLb.Dns.Resolution;
using ClientLb.Dns.Tests.Infrastructure;

namespace ClientLb.Dns.Tests.Client;

/// <summary>The client and resolver against a real dnsmasq.</summary>
public sealed class DnsmasqClientTests : IAsyncLifetime
{
    private const string Zone = "prod.svc.cluster.local";
    private Dnsmasq _dns = null!;

    public async Task InitializeAsync()
    {
        string hosts = string.Join('\n', Enumerable.Range(1, 150).Select(i => $"10.1.{i / 250}.{i % 250 + 1} big.{Zone}")) + "\n";
        _dns = await Dnsmasq.StartAsync(
        [
            $"--host-record=web.{Zone},10.0.0.10,fd00::10,30",
            $"--host-record=web-0.web.{Zone},10.0.0.1,fd00::1,30",
            $"--host-record=web-1.web.{Zone},10.0.0.2",
            $"--cname=alias.{Zone},web.{Zone}",
            $"--cname=alias2.{Zone},alias.{Zone}",
            $"--srv-host=_http._tcp.web.{Zone},web-0.web.{Zone},8080,0,10",
        ], hosts);
    }

    public async Task DisposeAsync() => await _dns.DisposeAsync();

    private DnsStubClient Client() => new(_dns.Settings());

    [Fact]
    public async Task A_record_comes_back_over_UDP_with_its_TTL()
    {
        DnsQueryResult result = await Client().QueryAsync(new DnsQuestion($"web.{Zone}", DnsRecordType.A));

        Assert.Equal(DnsTransport.Udp, result.Transport);
        Assert.Equal(_dns.Endpoint, result.Server);
        DnsARecord a = Assert.IsType<DnsARecord>(Assert.Single(result.Response.Answers));
        Assert.Equal(IPAddress.Parse("10.0.0.10"), a.Address);
        Assert.Equal(30u, a.Ttl);
        Assert.NotNull(result.Response.Edns);
    }

    [Fact]
    public async Task AAAA_record_comes_back()
    {
        DnsQueryResult result = await Client().QueryAsync(new DnsQuestion($"web.{Zone}", DnsRecordType.AAAA));

        Assert.Equal(IPAddress.Parse("fd00::10"), Assert.IsType<DnsAaaaRecord>(Assert.Single(result.Response.Answers)).Address);
    }

    [Fact]
    public async Task A_CNAME_chain_is_followed_to_the_addresses()
    {
        var resolver = new DnsResolver(Client(), _dns.Settings());

        DnsLookup lookup = await resolver.LookupAsync($"alias2.{Zone}.", DnsRecordType.A);

        Assert.Equal(DnsLookupStatus.Found, lookup.Status);
        Assert.Equal($"web.{Zone}", lookup.CanonicalName);
        Assert.Equal(IPAddress.Parse("10.0.0.10"), Assert.IsType<DnsARecord>(Assert.Single(lookup.Records)).Address);
        Assert.Equal(5u, lookup.Ttl);
    }

    [Fact]
    public async Task NXDOMAIN_is_an_answer_with_the_search_candidates_listed()
    {
        var resolver = new DnsResolver(Client(), _dns.Settings(search: [Zone, "svc.cluster.local"], ndots: 5));

        DnsLookup lookup = await resolver.LookupAsync("nothing.prod", DnsRecordType.A);

        Assert.Equal(DnsLookupStatus.NameNotFound, lookup.Status);
        Assert.Equal(["nothing.prod.prod.svc.cluster.local", "nothing.prod.svc.cluster.local", "nothing.prod"], lookup.TriedNames);
        Assert.Equal(DnsResponseCode.NXDomain, (await Client().QueryAsync(new DnsQuestion($"nothing.{Zone}", DnsRecordType.A))).Response.ResponseCode);
    }

    [Fact]
    public async Task A_name_without_the_type_is_NODATA()
    {
        var resolver = new DnsResolver(Client(), _dns.Settings());

        DnsLookup lookup = await resolver.LookupAsync($"web-1.web.{Zone}.", DnsRecordType.AAAA);

        Assert.Equal(DnsLookupStatus.NoData, lookup.Status);
        Assert.Empty(lookup.Records);
    }

    [Fact]
    public async Task A_large_answer_is_truncated_over_UDP_and_fetched_whole_over_TCP()
    {
        DnsQueryResult result = await Client().QueryAsync(new DnsQuestion($"big.{Zone}", DnsRecordType.A));

        Assert.Equal(DnsTransport.Tcp, result.Transport);
        Assert.False(result.Response.IsTruncated);
        Assert.Equal(150, result.Response.Answers.OfType<DnsARecord>().Select(a => a.Address).Distinct().Count());
    }

    [Fact]
    public async Task Search_list_expansion_with_ndots_5_finds_a_short_name_as_a_pod_would()
    {
        var resolver = new DnsResolver(Client(), _dns.Settings(search: [Zone, "svc.cluster.local", "cluster.local"], ndots: 5));

        DnsLookup shortName = await resolver.LookupAsync("web-0.web", DnsRecordType.A);
        DnsLookup withNamespace = await resolver.LookupAsync("web.prod", DnsRecordType.A);

        Assert.Equal(["web-0.web.prod.svc.cluster.local"], shortName.TriedNames);
        Assert.Equal(IPAddress.Parse("10.0.0.1"), Assert.IsType<DnsARecord>(Assert.Single(shortName.Records)).Address);
        Assert.Equal(["web.prod.prod.svc.cluster.local", "web.prod.svc.cluster.local"], withNamespace.TriedNames);
        Assert.Equal(IPAddress.Parse("10.0.0.10"), Assert.IsType<DnsARecord>(Assert.Single(withNamespace.Records)).Address);
    }

    [Fact]
    public async Task With_ndots_1_a_dotted_name_is_tried_as_is_first()
    {
        var resolver = new DnsResolver(Client(), _dns.Settings(search: [Zone], ndots: 1));

        DnsLookup lookup = await resolver.LookupAsync($"web.{Zone}", DnsRecordType.A);

        Assert.Equal([$"web.{Zone}"], lookup.TriedNames);
    }

    [Fact]
    public async Task A_silent_first_server_fails_over_to_the_next_in_order()
    {
        using var silent = new FakeDnsServer(null);
        var client = new DnsStubClient(_dns.Settings(timeout: TimeSpan.FromMilliseconds(300)) with { Servers = [silent.Endpoint, _dns.Endpoint] });

        DnsQueryResult result = await client.QueryAsync(new DnsQuestion($"web.{Zone}", DnsRecordType.A));

        Assert.Equal(_dns.Endpoint, result.Server);
        Assert.Equal(1, silent.Queries);
    }

    [Fact]
    public async Task A_stopped_server_gives_an_error_listing_every_attempt()
    {
        await using Dnsmasq doomed = await Dnsmasq.StartAsync([$"--host-record=gone.{Zone},10.9.9.9"]);
        var client = new DnsStubClient(doomed.Settings(timeout: TimeSpan.FromMilliseconds(200), attempts: 2));
        await client.QueryAsync(new DnsQuestion($"gone.{Zone}", DnsRecordType.A));
        await doomed.StopAsync();

        DnsResolutionException ex = await Assert.ThrowsAsync<DnsResolutionException>(() => client.QueryAsync(new DnsQuestion($"gone.{Zone}", DnsRecordType.A)));

        Assert.Equal(2, ex.Attempts.Count);
        Assert.Contains($"gone.{Zone} A", ex.Message, StringComparison.Ordinal);
        Assert.Contains(doomed.Endpoint.ToString(), ex.Attempts[0], StringComparison.Ordinal);
    }
}
