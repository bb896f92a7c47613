namespace ClientLb.Tests.Architecture;

/// <summary>The packages under src/ and their compiled assemblies, which ClientLb.Tests.csproj copies next to the tests.</summary>
internal static class SourcePackages
{
    public static string RepoRoot { get; } = FindRepo();

    /// <summary>One per folder of src/ that holds a project of its name.</summary>
    public static IReadOnlyList<string> Names { get; } =
        [.. Directory.GetDirectories(Path.Combine(RepoRoot, "src"))
            .Select(Path.GetFileName)
            .Where(name => File.Exists(Path.Combine(RepoRoot, "src", name!, name + ".csproj")))
            .Order(StringComparer.Ordinal)!];

    public static string AssemblyPath(string package)
    {
        string path = Path.Combine(AppContext.BaseDirectory, package + ".dll");
        return File.Exists(path)
            ? path
            : throw new FileNotFoundException($"{package}.dll is not next to the tests: add src/{package} to the copied ProjectReferences of ClientLb.Tests.csproj.", path);
    }

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
}
