using System.Globalization;
using System.Net;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Benchmarks;

/// <summary>
/// ClientLb's own handler against Microsoft.Extensions.ServiceDiscovery's handler fed by ClientLb's provider
/// (<c>AddServiceDiscovery().AddClientLbEndpointProvider()</c>), interleaved with a direct client as in
/// <see cref="OverheadLoad"/>: three loopback backends, blocks of sequential GETs, median ratio to the direct blocks, and
/// bytes allocated per request (whole process, so the in-process servers' share is the same on every side).
/// <c>dotnet run -c Release --project tests/ClientLb.Benchmarks -- mesd-overhead [groups=40] [requestsPerBlock=400]</c>.
/// </summary>
public static class MesdOverheadLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        int groups = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 40;
        int block = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 400;
        foreach (Version version in new[] { HttpVersion.Version11, HttpVersion.Version20 })
        {
            (List<WebApplication> servers, List<string> authorities) = await LoopbackKestrel.StartManyAsync("127.0.7", 3, version);
            // ClientLb's configuration source serves "three" to both: MESD's own configuration provider reads "Services",
            // which stays empty, so the MESD client's endpoints come from ClientLb's provider.
            IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(
                authorities.Select((a, i) => new KeyValuePair<string, string?>($"ClientLb:Services:three:Endpoints:{i}", a))).Build();
            var services = new ServiceCollection();
            services.AddSingleton(configuration);
            services.AddServiceDiscovery().AddClientLbEndpointProvider();
            services.AddHttpClient("clientlb", c => Configure(c, "http://three", version)).AddClientLb();
            services.AddHttpClient("mesd", c => Configure(c, "http://three", version)).AddServiceDiscovery();
            await using ServiceProvider provider = services.BuildServiceProvider();
            IHttpClientFactory factory = provider.GetRequiredService<IHttpClientFactory>();
            using HttpClient direct = OverheadLoad.Client(new SocketsHttpHandler(), "http://" + authorities[0], version);
            HttpClient clientLb = factory.CreateClient("clientlb");
            HttpClient mesd = factory.CreateClient("mesd");
            var time = new Dictionary<string, List<double>> { ["clientlb"] = [], ["mesd"] = [] };
            var bytes = new Dictionary<string, List<double>> { ["direct"] = [], ["clientlb"] = [], ["mesd"] = [] };
            foreach (HttpClient c in new[] { direct, clientLb, mesd })
            {
                await OverheadLoad.RunBlockAsync(c, 200);
            }
            for (int g = 0; g < groups; g++)
            {
                (double d1, double b1) = await MeasureAsync(direct, block);
                // Alternate which of the two runs first in a group.
                double l, bl, m, bm;
                if (g % 2 == 0)
                {
                    (l, bl) = await MeasureAsync(clientLb, block);
                    (m, bm) = await MeasureAsync(mesd, block);
                }
                else
                {
                    (m, bm) = await MeasureAsync(mesd, block);
                    (l, bl) = await MeasureAsync(clientLb, block);
                }
                (double d2, double b2) = await MeasureAsync(direct, block);
                double d = (d1 + d2) / 2;
                time["clientlb"].Add(l / d);
                time["mesd"].Add(m / d);
                bytes["direct"].Add((b1 + b2) / 2);
                bytes["clientlb"].Add(bl);
                bytes["mesd"].Add(bm);
            }
            Console.WriteLine($"mesd-overhead HTTP/{version}: {groups} groups of {block} sequential GETs over three backends; median ratio to direct: " +
                $"ClientLb handler {Describe(time["clientlb"])}, MESD handler + ClientLb provider {Describe(time["mesd"])}; " +
                $"MESD/ClientLb {OverheadLoad.Median(time["mesd"]) / OverheadLoad.Median(time["clientlb"]):0.000}; bytes allocated per request (process): " +
                $"direct {OverheadLoad.Median(bytes["direct"]):0}, ClientLb {OverheadLoad.Median(bytes["clientlb"]):0}, MESD {OverheadLoad.Median(bytes["mesd"]):0}");
            foreach (WebApplication app in servers)
            {
                await app.DisposeAsync();
            }
        }
        return 0;
    }

    private static void Configure(HttpClient client, string baseAddress, Version version)
    {
        client.BaseAddress = new Uri(baseAddress);
        client.DefaultRequestVersion = version;
        client.DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact;
    }

    private static async Task<(double Ms, double BytesPerRequest)> MeasureAsync(HttpClient client, int requests)
    {
        long before = GC.GetTotalAllocatedBytes(precise: true);
        double ms = await OverheadLoad.RunBlockAsync(client, requests);
        return (ms, (GC.GetTotalAllocatedBytes(precise: true) - before) / (double)requests);
    }

    private static string Describe(List<double> ratios) =>
        $"{OverheadLoad.Median(ratios):0.000} (p25 {OverheadLoad.Quantile(ratios, 0.25):0.000}, p75 {OverheadLoad.Quantile(ratios, 0.75):0.000})";
}
