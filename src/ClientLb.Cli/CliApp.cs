using System.CommandLine;
using ClientLb.Cli.Commands;

namespace ClientLb.Cli;

/// <summary>The <c>clientlb</c> command line; callable in-process with any writers (tests do).</summary>
public static class CliApp
{
    /// <summary>Parses <paramref name="args"/> and runs the command; returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        var root = new RootCommand("clientlb: client-side service discovery and load balancing for Kubernetes.")
        {
            ResolveCommand.Create(output, error),
            WatchCommand.Create(output, error),
            SandboxCommand.Create(output, error),
            AgentCommand.Create(output, error),
        };
        ParseResult parse = root.Parse(args);
        return await parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
    }
}
