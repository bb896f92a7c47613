using System.Reflection;

namespace ClientLb.Cli.Tests;

/// <summary>The tool names itself clientlb (not the assembly or the host process) and prints the package version.</summary>
public class VersionAndHelpTests
{
    [Fact]
    public async Task Version_is_the_package_version()
    {
        var output = new StringWriter();
        Assert.Equal(0, await CliApp.RunAsync(["--version"], output, new StringWriter()));
        string package = typeof(CliApp).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion;
        Assert.Equal(package, output.ToString().Trim());
        Assert.Matches(@"^\d+\.\d+\.\d+(-[0-9A-Za-z.-]+)?$", output.ToString().Trim());
    }

    [Fact]
    public async Task Help_says_clientlb()
    {
        var output = new StringWriter();
        Assert.Equal(0, await CliApp.RunAsync(["--help"], output, new StringWriter()));
        Assert.Contains("clientlb [command] [options]", output.ToString());
        Assert.DoesNotContain("ClientLb.Cli", output.ToString());
        Assert.DoesNotContain("testhost", output.ToString());
    }
}
