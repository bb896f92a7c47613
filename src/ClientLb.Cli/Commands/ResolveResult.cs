using System.Text.Json.Serialization;
using ClientLb.Balancing;
using ClientLb.Eligibility;
using ClientLb.Endpoints;
using ClientLb.Sources;
using Spectre.Console;

namespace ClientLb.Cli.Commands;

/// <summary>
/// The JSON shape of <c>clientlb resolve</c>, the same whatever the source (<c>source</c> says which):
/// the service, the snapshot version, every endpoint with its conditions and whether it is eligible, and the source's status.
/// </summary>
internal sealed record ResolveResult(
    string Service, string Fqdn, string Source, string SourceDescription, long Version, DateTimeOffset ObtainedAt,
    string Selection, IReadOnlyList<ResolvedEndpoint> Endpoints, ResolveStatus Status)
{
    public static ResolveResult From(ServiceBalancer balancer)
    {
        EndpointSnapshot snapshot = balancer.Source.Current!;
        EndpointSelection selection = EndpointSelector.Select(snapshot.Endpoints);
        var eligible = selection.Eligible.Select(e => e.Authority).ToHashSet(StringComparer.Ordinal);
        SourceStatus status = balancer.Source.Status;
        return new ResolveResult(
            balancer.Service.Id, balancer.Service.Fqdn, snapshot.SourceKind, balancer.Source.Description, snapshot.Version, snapshot.CreatedAt,
            selection.Kind.ToString(),
            [.. snapshot.Endpoints.Select(e => new ResolvedEndpoint(e.Host, e.Port, e.Scheme, e.Weight, e.Conditions.Ready, e.Conditions.Serving,
                e.Conditions.Terminating, eligible.Contains(e.Authority), e.Hostname, e.Zone, e.NodeName))],
            new ResolveStatus(status.IsHealthy, status.LastSuccessAt, status.FailingSince, status.LastError?.Message));
    }

    public static void WriteTable(ResolveResult result, TextWriter output)
    {
        IAnsiConsole console = AnsiConsole.Create(new AnsiConsoleSettings { Out = new AnsiConsoleOutput(output), Ansi = AnsiSupport.No, ColorSystem = ColorSystemSupport.NoColors });
        if (Console.IsOutputRedirected || output != Console.Out)
        {
            console.Profile.Width = 200;
        }
        console.WriteLine($"{result.Service} ({result.Fqdn}) from {result.SourceDescription}, snapshot v{result.Version}, {result.Selection}");
        Table table = new Table().AddColumns("ENDPOINT", "READY", "SERVING", "TERMINATING", "ELIGIBLE", "WEIGHT", "HOSTNAME", "ZONE", "NODE");
        foreach (ResolvedEndpoint e in result.Endpoints)
        {
            string authority = e.Address.Contains(':') ? $"[{e.Address}]:{e.Port}" : $"{e.Address}:{e.Port}";
            table.AddRow(Markup.Escape(authority), Yes(e.Ready), Yes(e.Serving), Yes(e.Terminating), Yes(e.Eligible), e.Weight.ToString(System.Globalization.CultureInfo.InvariantCulture),
                Markup.Escape(e.Hostname ?? "-"), Markup.Escape(e.Zone ?? "-"), Markup.Escape(e.Node ?? "-"));
        }
        console.Write(table);
        if (!result.Status.Healthy)
        {
            console.WriteLine($"source failing since {result.Status.FailingSince:O}: {result.Status.LastError}");
        }
    }

    private static string Yes(bool value) => value ? "yes" : "no";
}

/// <summary>One endpoint in <see cref="ResolveResult"/>.</summary>
internal sealed record ResolvedEndpoint(string Address, int Port, string? Scheme, int Weight, bool Ready, bool Serving, bool Terminating, bool Eligible,
    string? Hostname, string? Zone, string? Node);

/// <summary>The source's health in <see cref="ResolveResult"/>.</summary>
internal sealed record ResolveStatus(bool Healthy, DateTimeOffset? LastSuccessAt, DateTimeOffset? FailingSince, string? LastError);

[JsonSourceGenerationOptions(WriteIndented = true, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ResolveResult))]
internal sealed partial class CliJsonContext : JsonSerializerContext;

/// <summary>One JSON object per line, for <c>clientlb watch -o json</c>.</summary>
[JsonSourceGenerationOptions(WriteIndented = false, PropertyNamingPolicy = JsonKnownNamingPolicy.CamelCase)]
[JsonSerializable(typeof(ResolveResult), TypeInfoPropertyName = "ResolveResultCompact")]
internal sealed partial class CliCompactJsonContext : JsonSerializerContext;
