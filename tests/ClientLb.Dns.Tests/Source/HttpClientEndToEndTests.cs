using System.Net;
using ClientLb.Dns.Configuration;
using ClientLb.Dns.Tests.Infrastructure;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;

namespace ClientLb.Dns.Tests.Source;

/// <summary>The whole path: a real dnsmasq answers for a headless service, an AddClientLb() HttpClient balances over real Kestrel pods.</summary>
public class HttpClientEndToEndTests
{
    [Fact]
    public async Task A_headless_service_resolved_by_dns_is_balanced_per_request()
    {
        const int port = 18081;
        string[] pods = ["127.54.0.2", "127.54.0.3", "127.54.0.4"];
        var apps = new List<WebApplication>();
        try
        {
            foreach (string pod in pods)
            {
                WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
                builder.Logging.ClearProviders();
                builder.WebHost.ConfigureKestrel(k => k.Listen(IPAddress.Parse(pod), port));
                WebApplication app = builder.Build();
                app.Run(context => context.Response.WriteAsync(pod));
                await app.StartAsync();
                apps.Add(app);
            }
            await using Dnsmasq dns = await Dnsmasq.StartAsync(pods.Select(ip => $"--host-record=web.shop.svc.cluster.local,{ip}"));

            var services = new ServiceCollection();
            services.AddClientLbDns(o =>
            {
                o.Servers = [dns.Endpoint.ToString()];
                o.Mode = DnsResolutionMode.Headless;
                o.AddressFamilies = DnsAddressFamilies.IPv4;
                o.AllowLoopbackEndpoints = true; // the backends are Kestrel servers on 127.x
            });
            services.AddHttpClient("web", c => c.BaseAddress = new Uri($"http://web.shop:{port}")).AddClientLb();
            await using ServiceProvider provider = services.BuildServiceProvider();
            HttpClient client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("web");

            var counts = new Dictionary<string, int>();
            for (int i = 0; i < 90; i++)
            {
                string pod = await client.GetStringAsync("/");
                counts[pod] = counts.GetValueOrDefault(pod) + 1;
            }
            Assert.Equal(pods.Order(), counts.Keys.Order());
            // Round-robin gives 30 each; a picker rebuilt mid-run (a TTL refresh) restarts at a random offset, so allow slack.
            Assert.All(counts.Values, c => Assert.InRange(c, 20, 40));
        }
        finally
        {
            foreach (WebApplication app in apps)
            {
                await app.DisposeAsync();
            }
        }
    }
}
