using System.CommandLine;
using System.CommandLine.Help;
using System.CommandLine.Invocation;
using System.Reflection;
using ClientLb.Cli.Commands;

namespace ClientLb.Cli;

/// <summary>The <c>clientlb</c> command line; callable in-process with any writers (tests do).</summary>
internal static class CliApp
{
    /// <summary>Parses <paramref name="args"/> and runs the command; returns the exit code.</summary>
    public static async Task<int> RunAsync(string[] args, TextWriter output, TextWriter error, CancellationToken cancellationToken = default)
    {
        // A named root, not RootCommand: RootCommand takes its name from the process (ClientLb.Cli under `dotnet tool`,
        // testhost in tests); help and errors should say the command users type.
        var root = new Command(CommandName, "clientlb: client-side service discovery and load balancing for Kubernetes.")
        {
            new HelpOption(),
            new VersionOption { Action = new PrintVersion(output) },
            ResolveCommand.Create(output, error),
            WatchCommand.Create(output, error),
            SandboxCommand.Create(output, error),
            AgentCommand.Create(output, error),
        };
        ParseResult parse = root.Parse(args);
        return await parse.InvokeAsync(new InvocationConfiguration { Output = output, Error = error }, cancellationToken);
    }

    /// <summary>The command's name (the tool's ToolCommandName).</summary>
    public const string CommandName = "clientlb";

    /// <summary>The package version this build carries (without the source revision suffix).</summary>
    public static string Version { get; } =
        (typeof(CliApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "0.0.0").Split('+')[0];

    private sealed class PrintVersion(TextWriter output) : SynchronousCommandLineAction
    {
        public override int Invoke(ParseResult parseResult)
        {
            output.WriteLine(Version);
            return 0;
        }
    }
}
