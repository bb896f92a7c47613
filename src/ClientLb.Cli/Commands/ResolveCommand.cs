using System.CommandLine;
using System.Text.Json;
using ClientLb.Balancing;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Sources;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Cli.Commands;

/// <summary><c>clientlb resolve NAME</c>: what a source says about a service now, as a table or JSON.</summary>
internal static class ResolveCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var options = new SourceOptions();
        var timeout = new Option<double>("--timeout") { Description = "Seconds to wait for the first answer.", DefaultValueFactory = _ => 10 };
        var explain = new Option<bool>("--explain") { Description = "Say why the name resolves to what it does: the source used, the Service and EndpointSlices seen, each endpoint dropped and why." };
        var command = new Command("resolve", "Resolve a service to its endpoints through a ClientLb source.") { timeout, explain };
        options.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            if (parse.GetValue(explain))
            {
                return await ExplainAsync(options, parse, TimeSpan.FromSeconds(parse.GetValue(timeout)), output, error, cancellationToken);
            }
            try
            {
                await using ServiceProvider provider = options.BuildServices(parse);
                ServiceRegistry registry = provider.GetRequiredService<ServiceRegistry>();
                using ServiceBalancerLease lease = registry.AcquireBalancer(options.ServiceNameFrom(parse, registry));
                ServiceBalancer balancer = lease.Balancer;
                await balancer.EnsureReadyAsync(TimeSpan.FromSeconds(parse.GetValue(timeout)), cancellationToken);
                ResolveResult result = ResolveResult.From(balancer);
                if (parse.GetValue(options.Output) == "json")
                {
                    await output.WriteLineAsync(JsonSerializer.Serialize(result, CliJsonContext.Default.ResolveResult));
                }
                else
                {
                    ResolveResult.WriteTable(result, output);
                }
                return result.Endpoints.Count > 0 ? 0 : 2;
            }
            catch (Exception ex) when (CliErrors.Describe(ex, parse.GetValue(options.Port)) is string message)
            {
                await error.WriteLineAsync("clientlb resolve: " + message);
                return 1;
            }
        });
        return command;
    }

    private static async Task<int> ExplainAsync(SourceOptions options, ParseResult parse, TimeSpan timeout, TextWriter output, TextWriter error, CancellationToken cancellationToken)
    {
        ServiceProvider provider;
        ServiceName service;
        try
        {
            provider = options.BuildServices(parse);
            service = options.ServiceNameFrom(parse, provider.GetRequiredService<ServiceRegistry>());
        }
        catch (Exception ex) when (CliErrors.Describe(ex, parse.GetValue(options.Port)) is string message)
        {
            await error.WriteLineAsync("clientlb resolve: " + message);
            return 1;
        }
        await using (provider)
        {
            ServiceRegistry registry = provider.GetRequiredService<ServiceRegistry>();
            ServiceBalancerLease? lease = null;
            Exception? resolveError = null;
            try
            {
                lease = registry.AcquireBalancer(service);
                await lease.Balancer.EnsureReadyAsync(timeout, cancellationToken);
            }
            catch (Exception ex) when (CliErrors.Describe(ex, parse.GetValue(options.Port)) is not null)
            {
                resolveError = ex;
            }
            using (lease)
            {
                var loopback = new Kubernetes.KubernetesSourceOptions { AllowLoopbackEndpoints = parse.GetValue(options.AllowLoopback) ? true : null };
                return await new ResolveExplanation(output) { Loopback = loopback }.WriteAsync(service, lease?.Balancer, resolveError ?? lease?.Balancer.Source.Status.LastError,
                    options.KubernetesConfiguration(parse), cancellationToken);
            }
        }
    }
}

/// <summary>Turns the errors a user can cause into one line; anything else is a bug and propagates.</summary>
internal static class CliErrors
{
    public static string? Describe(Exception ex, string? portOption) => ex switch
    {
        ServiceNotFoundException nf when nf.Service is { Port: null, PortName: null, Schemes.Count: 0 } && portOption is null =>
            $"'{nf.Service}' has no port, no http/https scheme and no named port, so A/AAAA answers give no port: pass --port N, a URL such as http://{nf.Service.Key}, or a named port such as {nf.Service.Key}:http. ({nf.Message})",
        ServiceNameFormatException or ServiceNotFoundException or NoEndpointsException or EndpointSourceException or ArgumentException
            or ClientLb.Kubernetes.Client.KubernetesApiException
            or Microsoft.Extensions.Options.OptionsValidationException or FormatException or InvalidDataException
            or ClientLb.Kubernetes.Config.KubernetesConfigException => ex.Message,
        _ => null,
    };
}
