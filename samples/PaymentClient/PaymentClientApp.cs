using System.Globalization;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Samples.PaymentClient;

/// <summary>
/// The .NET counterpart of seed 003's Java and Go PaymentClient: <c>GET http://payment-service.finance/process</c>, through
/// <see cref="IHttpClientFactory"/> and ClientLb (the Kubernetes EndpointSlice watch, DNS as the fallback when no
/// Kubernetes configuration is found), one request per line naming the pod that answered, then a count per pod.
/// </summary>
public static class PaymentClientApp
{
    /// <summary>Runs the client; returns 0 when every request succeeded.</summary>
    /// <param name="args"><c>[--url URL] [--requests N] [--kubeconfig PATH] [--dns-server HOST:PORT]</c></param>
    /// <param name="output">Where the answers are printed.</param>
    public static async Task<int> RunAsync(string[] args, TextWriter output)
    {
        string url = Option(args, "--url") ?? "http://payment-service.finance/process";
        int requests = int.Parse(Option(args, "--requests") ?? "12", CultureInfo.InvariantCulture);
        string? kubeconfig = Option(args, "--kubeconfig") ?? Environment.GetEnvironmentVariable("KUBECONFIG");
        string? dnsServer = Option(args, "--dns-server");

        var services = new ServiceCollection();
        // Kubernetes first (in-cluster service account, --kubeconfig, KUBECONFIG or ~/.kube/config); with none of
        // those it serves nothing and DNS answers (SRV for named ports, A records), as the seed's clients rely on.
        services.AddClientLbKubernetes(k => k.KubeconfigPath = kubeconfig);
        services.AddClientLbDns(d =>
        {
            if (dnsServer is not null)
            {
                d.Servers.Add(dnsServer);
            }
        });
        services.AddHttpClient("payments").AddClientLb();
        await using ServiceProvider provider = services.BuildServiceProvider();
        HttpClient client = provider.GetRequiredService<IHttpClientFactory>().CreateClient("payments");

        var perPod = new SortedDictionary<string, int>(StringComparer.Ordinal);
        int failed = 0;
        for (int i = 1; i <= requests; i++)
        {
            try
            {
                using HttpResponseMessage response = await client.GetAsync(url);
                string body = await response.Content.ReadAsStringAsync();
                response.EnsureSuccessStatusCode();
                string pod = body.Split(' ')[^1];
                perPod[pod] = perPod.GetValueOrDefault(pod) + 1;
                await output.WriteLineAsync($"#{i} answered by {pod}: {body}");
            }
            catch (Exception e) when (e is not OperationCanceledException)
            {
                // Every ClientLb failure names what is wrong: the service, the source, the kubeconfig file.
                failed++;
                await output.WriteLineAsync($"#{i} failed: {e.Message}");
            }
        }
        await output.WriteLineAsync($"{requests - failed} answered, {failed} failed; per pod: " + string.Join(", ", perPod.Select(p => $"{p.Key} {p.Value}")));
        return failed == 0 ? 0 : 1;
    }

    private static string? Option(string[] args, string name)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : null;
    }
}
