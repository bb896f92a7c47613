using System.CommandLine;
using System.Text.Json;
using System.Threading.Channels;
using ClientLb.Balancing;
using ClientLb.Endpoints;
using ClientLb.Names;
using ClientLb.Registry;
using ClientLb.Sources;
using Microsoft.Extensions.DependencyInjection;

namespace ClientLb.Cli.Commands;

/// <summary><c>clientlb watch NAME</c>: the service's endpoints now and after every change, until Ctrl-C.</summary>
internal static class WatchCommand
{
    public static Command Create(TextWriter output, TextWriter error)
    {
        var options = new SourceOptions();
        var count = new Option<int?>("--count") { Description = "Stop after this many snapshots (the first included)." };
        var command = new Command("watch", "Follow a service's endpoints: with -o json, one JSON object per line per change.") { count };
        options.AddTo(command);
        command.SetAction(async (parse, cancellationToken) =>
        {
            try
            {
                await using ServiceProvider provider = options.BuildServices(parse);
                ServiceRegistry registry = provider.GetRequiredService<ServiceRegistry>();
                using ServiceBalancerLease lease = registry.AcquireBalancer(options.ServiceNameFrom(parse, registry));
                ServiceBalancer balancer = lease.Balancer;
                // Changes arrive on the source's thread; the channel hands them to this loop in order.
                var changes = Channel.CreateUnbounded<bool>(new UnboundedChannelOptions { SingleReader = true });
                using IDisposable subscription = balancer.Source.Subscribe(_ => changes.Writer.TryWrite(true));
                await balancer.EnsureReadyAsync(TimeSpan.FromSeconds(30), cancellationToken);
                bool json = parse.GetValue(options.Output) == "json";
                int? limit = parse.GetValue(count);
                long lastVersion = -1;
                SourceStatus? lastStatus = null;
                int printed = 0;
                do
                {
                    EndpointSnapshot? snapshot = balancer.Source.Current;
                    SourceStatus status = balancer.Source.Status;
                    // A change of health is news too: failing (serving the last known endpoints), or healthy again.
                    bool statusChanged = lastStatus is not null && status.IsHealthy != lastStatus.IsHealthy;
                    if (snapshot is not null && (snapshot.Version != lastVersion || statusChanged))
                    {
                        lastVersion = snapshot.Version;
                        lastStatus = status;
                        ResolveResult result = ResolveResult.From(balancer);
                        if (json)
                        {
                            await output.WriteLineAsync(JsonSerializer.Serialize(result, CliCompactJsonContext.Default.ResolveResultCompact));
                        }
                        else
                        {
                            ResolveResult.WriteTable(result, output);
                        }
                        await output.FlushAsync(cancellationToken);
                        if (limit is int max && ++printed >= max)
                        {
                            return 0;
                        }
                    }
                }
                while (await changes.Reader.WaitToReadAsync(cancellationToken) && changes.Reader.TryRead(out _));
                return 0;
            }
            catch (OperationCanceledException) when (cancellationToken.IsCancellationRequested)
            {
                return 0;
            }
            catch (Exception ex) when (CliErrors.Describe(ex, parse.GetValue(options.Port)) is string message)
            {
                await error.WriteLineAsync("clientlb watch: " + message);
                return 1;
            }
        });
        return command;
    }
}
