using System.Diagnostics;
using System.Reflection;
using System.Text;
using ClientLb.Sandbox;

namespace ClientLb.Release.Tests;

/// <summary>
/// What a stranger gets: every package packed to a folder, a fresh console app restoring ClientLb, ClientLb.Kubernetes
/// and ClientLb.Grpc from it (nuget.org for the rest) and calling the sandbox over HTTP and gRPC, and the clientlb tool
/// installed from the folder resolving the same service.
/// </summary>
public class PackagedAppTests
{
    private static readonly string Repo = FindRepo();

    /// <summary>The repository's root folder (where ClientLb.sln is).</summary>
    internal static string RepoRoot => Repo;
    private static readonly string Configuration =
        typeof(PackagedAppTests).Assembly.GetCustomAttribute<AssemblyConfigurationAttribute>()?.Configuration ?? "Debug";
    private static readonly string Version = typeof(ClientLb.Registry.ServiceRegistry).Assembly
        .GetCustomAttribute<AssemblyInformationalVersionAttribute>()!.InformationalVersion.Split('+')[0];

    private const string Manifest = """
        apiVersion: apps/v1
        kind: Deployment
        metadata: {name: greeter}
        spec:
          replicas: 3
          selector: {matchLabels: {app: greeter}}
          template:
            metadata: {labels: {app: greeter}}
            spec:
              containers:
              - name: greeter
                image: greeter:1.0
                ports:
                - {name: http, containerPort: 8080}
                - {name: grpc, containerPort: 50051}
        ---
        apiVersion: v1
        kind: Service
        metadata: {name: greeter}
        spec:
          selector: {app: greeter}
          ports:
          - {name: http, port: 80, targetPort: http}
          - {name: grpc, port: 81, targetPort: grpc}
        """;

    private const string AppProgram = """
        using Grpc.Core;
        using Grpc.Net.Client;
        using Microsoft.Extensions.DependencyInjection;

        var services = new ServiceCollection();
        services.AddClientLbKubernetes(k => k.KubeconfigPath = args[0]);
        services.AddClientLbGrpc();
        services.AddHttpClient("greeter", c => c.BaseAddress = new Uri("http://greeter.default:80")).AddClientLb();
        await using ServiceProvider provider = services.BuildServiceProvider();
        HttpClient http = provider.GetRequiredService<IHttpClientFactory>().CreateClient("greeter");
        for (int i = 0; i < 6; i++)
        {
            Console.WriteLine("http " + await http.GetStringAsync("/"));
        }
        using GrpcChannel channel = GrpcChannel.ForAddress("http://greeter.default:81", new GrpcChannelOptions { HttpHandler = ClientLb.Grpc.ClientLbGrpc.CreateHandler(provider) });
        // grpc.health.v1.Health/Check with an empty request: a real call without generated code.
        var check = new Method<byte[], byte[]>(MethodType.Unary, "grpc.health.v1.Health", "Check",
            Marshallers.Create(b => b, b => b), Marshallers.Create(b => b, b => b));
        byte[] reply = await channel.CreateCallInvoker().AsyncUnaryCall(check, null, new CallOptions(), []);
        // HealthCheckResponse { status = SERVING (1) } is the bytes 08 01.
        Console.WriteLine("grpc health " + Convert.ToHexString(reply));
        """;

    [Fact]
    public async Task A_fresh_app_and_the_tool_from_the_packed_packages_reach_the_sandbox()
    {
        string work = Directory.CreateTempSubdirectory("clientlb-packaged-").FullName;
        try
        {
            string feed = Path.Combine(work, "feed");
            // The test project references every packable project, so they are built in this configuration already; one
            // MSBuild run packs them all (a dotnet pack per project would start eight).
            string packAll = Path.Combine(work, "pack.proj");
            await File.WriteAllTextAsync(packAll, $"""
                <Project>
                  <ItemGroup>{string.Concat(PackableProjects().Select(p => $"<Package Include=\"{p}\" />"))}</ItemGroup>
                  <Target Name="Pack">
                    <MSBuild Projects="@(Package)" Targets="Pack" BuildInParallel="true"
                             Properties="Configuration={Configuration};NoBuild=true;PackageOutputPath={feed}" />
                  </Target>
                </Project>
                """);
            await RunAsync("dotnet", $"msbuild \"{packAll}\" -t:Pack -nologo -v:m", Repo);
            foreach (string id in new[] { "ClientLb", "ClientLb.Kubernetes", "ClientLb.Dns", "ClientLb.Grpc", "ClientLb.ServiceDiscovery", "ClientLb.Sandbox", "ClientLb.Agent", "ClientLb.Cli" })
            {
                Assert.True(File.Exists(Path.Combine(feed, $"{id}.{Version}.nupkg")), $"{id}.{Version}.nupkg was not packed: {string.Join(", ", Directory.GetFiles(feed).Select(Path.GetFileName))}");
            }

            await using SandboxCluster cluster = await SandboxCluster.StartAsync();
            await cluster.ApplyManifestAsync(Manifest);
            using (var ready = new CancellationTokenSource(TimeSpan.FromSeconds(30)))
            {
                await cluster.WaitForReadyEndpointsAsync("greeter", 3, cancellationToken: ready.Token);
            }
            HashSet<string> pods = [.. cluster.GetPods("app=greeter").Select(p => p.Name)];

            string app = Path.Combine(work, "app");
            Directory.CreateDirectory(app);
            // Its own NuGet.config: the packed folder and nuget.org only; packages go to a private folder (so a stale
            // ClientLb of the same version in the machine's cache is never used), the machine's cache is a read-only fallback.
            await File.WriteAllTextAsync(Path.Combine(work, "NuGet.config"), $"""
                <?xml version="1.0" encoding="utf-8"?>
                <configuration>
                  <config><add key="globalPackagesFolder" value="{Path.Combine(work, "packages")}" /></config>
                  <packageSources>
                    <clear />
                    <add key="clientlb" value="{feed}" />
                    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" />
                  </packageSources>
                  <fallbackPackageFolders><add key="machine" value="{NuGetCache()}" /></fallbackPackageFolders>
                </configuration>
                """);
            // Empty props next to the app keep it from inheriting anything of a surrounding repository.
            await File.WriteAllTextAsync(Path.Combine(work, "Directory.Build.props"), "<Project />");
            await File.WriteAllTextAsync(Path.Combine(work, "Directory.Packages.props"), "<Project />");
            await File.WriteAllTextAsync(Path.Combine(app, "App.csproj"), $"""
                <Project Sdk="Microsoft.NET.Sdk">
                  <PropertyGroup>
                    <OutputType>Exe</OutputType>
                    <TargetFramework>net10.0</TargetFramework>
                    <ImplicitUsings>enable</ImplicitUsings>
                    <Nullable>enable</Nullable>
                    <TreatWarningsAsErrors>true</TreatWarningsAsErrors>
                  </PropertyGroup>
                  <ItemGroup>
                    <PackageReference Include="ClientLb" Version="{Version}" />
                    <PackageReference Include="ClientLb.Kubernetes" Version="{Version}" />
                    <PackageReference Include="ClientLb.Grpc" Version="{Version}" />
                    <PackageReference Include="Grpc.Net.Client" Version="2.85.0" />
                  </ItemGroup>
                </Project>
                """);
            await File.WriteAllTextAsync(Path.Combine(app, "Program.cs"), AppProgram);
            string output = await RunAsync("dotnet", $"run -c Release -- \"{cluster.KubeconfigPath}\"", app);
            HashSet<string> answered = [.. output.Split('\n').Where(l => l.StartsWith("http ", StringComparison.Ordinal)).Select(l => l[5..].Trim())];
            Assert.True(pods.SetEquals(answered), output);
            Assert.Contains("grpc health 0801", output);

            string tools = Path.Combine(work, "tools");
            await RunAsync("dotnet", $"tool install ClientLb.Cli --version {Version} --tool-path \"{tools}\" --configfile \"{Path.Combine(work, "NuGet.config")}\"", work);
            string clientlb = Path.Combine(tools, "clientlb");
            Assert.Equal(Version, (await RunAsync(clientlb, "--version", work)).Trim());
            Assert.Contains("clientlb resolve <name> [options]", await RunAsync(clientlb, "resolve --help", work));
            string resolved = await RunAsync(clientlb, $"resolve http://greeter.default:80 --kubeconfig \"{cluster.KubeconfigPath}\" -o json", work);
            foreach (SandboxPod pod in cluster.GetPods("app=greeter"))
            {
                Assert.Contains($"\"address\": \"{pod.IP}\"", resolved);
            }
        }
        finally
        {
            Directory.Delete(work, recursive: true);
        }
    }

    private static IEnumerable<string> PackableProjects() =>
        Directory.GetDirectories(Path.Combine(Repo, "src")).Select(d => Path.Combine(d, Path.GetFileName(d) + ".csproj")).Where(File.Exists);

    private static string NuGetCache() =>
        Environment.GetEnvironmentVariable("NUGET_PACKAGES") ?? Path.Combine(Environment.GetFolderPath(Environment.SpecialFolder.UserProfile), ".nuget", "packages");

    private static string FindRepo()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            if (File.Exists(Path.Combine(dir.FullName, "ClientLb.sln")))
            {
                return dir.FullName;
            }
        }
        throw new InvalidOperationException("ClientLb.sln not found above " + AppContext.BaseDirectory);
    }

    /// <summary>Runs a process to completion (at most 5 minutes); fails the test with its output when it exits non-zero.</summary>
    internal static async Task<string> RunAsync(string file, string arguments, string directory)
    {
        var start = new ProcessStartInfo(file, arguments) { WorkingDirectory = directory, RedirectStandardOutput = true, RedirectStandardError = true };
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["DOTNET_NOLOGO"] = "1";
        using Process process = Process.Start(start)!;
        var output = new StringBuilder();
        Task stdout = Pump(process.StandardOutput, output);
        Task stderr = Pump(process.StandardError, output);
        using var timeout = new CancellationTokenSource(TimeSpan.FromMinutes(5));
        try
        {
            await process.WaitForExitAsync(timeout.Token);
        }
        catch (OperationCanceledException)
        {
            process.Kill(entireProcessTree: true);
            throw new TimeoutException($"{file} {arguments} did not finish in 5 minutes:\n{output}");
        }
        await Task.WhenAll(stdout, stderr);
        Assert.True(process.ExitCode == 0, $"{file} {arguments} exited with {process.ExitCode}:\n{output}");
        return output.ToString();
    }

    private static async Task Pump(StreamReader reader, StringBuilder output)
    {
        while (await reader.ReadLineAsync() is string line)
        {
            lock (output)
            {
                output.AppendLine(line);
            }
        }
    }
}
