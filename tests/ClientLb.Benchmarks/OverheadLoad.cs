using System.Diagnostics;
using System.Globalization;
using System.Net;
using ClientLb.Registry;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Server.Kestrel.Core;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Benchmarks;

/// <summary>
/// The balanced-call overhead as an interleaved A/B test, which a shared machine's drift cannot bias: blocks of
/// sequential GETs alternate between a direct client (baseline) and ClientLb clients against the same loopback Kestrel
/// backend (and, separately, over three backends); each pair of adjacent blocks gives one ratio, and the median ratio is
/// reported. <c>dotnet run -c Release --project tests/ClientLb.Benchmarks -- overhead [pairs=40] [requestsPerBlock=500]</c>.
/// </summary>
public static class OverheadLoad
{
    public static async Task<int> RunAsync(string[] args)
    {
        int pairs = args.Length > 1 ? int.Parse(args[1], CultureInfo.InvariantCulture) : 40;
        int block = args.Length > 2 ? int.Parse(args[2], CultureInfo.InvariantCulture) : 500;
        foreach (Version version in new[] { HttpVersion.Version11, HttpVersion.Version20 })
        {
            (List<WebApplication> servers, List<string> authorities) = await LoopbackKestrel.StartManyAsync("127.0.6", 3, version);
            IConfiguration configuration = new ConfigurationBuilder().AddInMemoryCollection(
            [
                new("ClientLb:Services:same:Endpoints:0", authorities[0]),
                .. authorities.Select((a, i) => new KeyValuePair<string, string?>($"ClientLb:Services:three:Endpoints:{i}", a)),
            ]).Build();
            var services = new ServiceCollection();
            services.AddSingleton(configuration);
            services.AddClientLb();
            await using ServiceProvider provider = services.BuildServiceProvider();
            ServiceRegistry registry = provider.GetRequiredService<ClientLb.Registry.ServiceRegistry>();
            using HttpClient direct = Client(new SocketsHttpHandler(), "http://" + authorities[0], version);
            using HttpClient same = Client(new Http.ClientLbHttpHandler(registry), "http://same", version);
            using HttpClient three = Client(new Http.ClientLbHttpHandler(registry), "http://three", version);
            foreach (HttpClient c in new[] { direct, same, three })
            {
                await RunBlockAsync(c, 200);
            }

            var sameRatios = new List<double>();
            var threeRatios = new List<double>();
            for (int p = 0; p < pairs; p++)
            {
                // Alternate the order within each pair so neither side always runs first.
                double d1 = await RunBlockAsync(direct, block);
                double s = await RunBlockAsync(same, block);
                double t = await RunBlockAsync(three, block);
                double d2 = await RunBlockAsync(direct, block);
                double d = (d1 + d2) / 2;
                sameRatios.Add(s / d);
                threeRatios.Add(t / d);
            }
            Console.WriteLine($"overhead HTTP/{version}: {pairs} interleaved block groups of {block} sequential GETs; " +
                $"median ratio to direct: same backend {Median(sameRatios):0.000} (p25 {Quantile(sameRatios, 0.25):0.000}, p75 {Quantile(sameRatios, 0.75):0.000}), " +
                $"three backends {Median(threeRatios):0.000} (p25 {Quantile(threeRatios, 0.25):0.000}, p75 {Quantile(threeRatios, 0.75):0.000})");
            foreach (WebApplication app in servers)
            {
                await app.DisposeAsync();
            }
        }
        return 0;
    }

    internal static HttpClient Client(HttpMessageHandler handler, string baseAddress, Version version) => new(handler)
    {
        BaseAddress = new Uri(baseAddress),
        DefaultRequestVersion = version,
        DefaultVersionPolicy = HttpVersionPolicy.RequestVersionExact,
    };

    internal static async Task<double> RunBlockAsync(HttpClient client, int requests)
    {
        long start = Stopwatch.GetTimestamp();
        for (int i = 0; i < requests; i++)
        {
            using HttpResponseMessage response = await client.GetAsync("/", HttpCompletionOption.ResponseHeadersRead);
            response.EnsureSuccessStatusCode();
        }
        return Stopwatch.GetElapsedTime(start).TotalMilliseconds;
    }

    internal static double Median(List<double> values) => Quantile(values, 0.5);

    internal static double Quantile(List<double> values, double q)
    {
        var sorted = values.Order().ToList();
        return sorted[(int)Math.Round(q * (sorted.Count - 1))];
    }
}
