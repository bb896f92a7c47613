using System.CommandLine;
using System.Text.Json;
using ClientLb.LoadBalancing;
using ClientLb.ServiceDiscovery;
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
        var command = new Command("resolve", "Resolve a service to its endpoints through a ClientLb source.") { timeout };
        options.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
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
}

/// <summary>Turns the errors a user can cause into one line; anything else is a bug and propagates.</summary>
internal static class CliErrors
{
    public static string? Describe(Exception ex, string? portOption) => ex switch
    {
        ServiceNotFoundException nf when nf.Service is { Port: null, PortName: null, Schemes.Count: 0 } && portOption is null =>
            $"'{nf.Service}' has no port, no http/https scheme and no named port, so A/AAAA answers give no port: pass --port N, a URL such as http://{nf.Service.Key}, or a named port such as {nf.Service.Key}:http. ({nf.Message})",
        ServiceNameFormatException or ServiceNotFoundException or NoEndpointsException or EndpointSourceException or ArgumentException
            or Microsoft.Extensions.Options.OptionsValidationException or FormatException or InvalidDataException
            or ClientLb.Kubernetes.Config.KubernetesConfigException => ex.Message,
        _ => null,
    };
}
