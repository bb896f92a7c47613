using System.Reflection.Metadata;
using System.Reflection.PortableExecutable;

namespace ClientLb.Tests.Architecture;

/// <summary>What keeps packages and files small and honest: no file past 400 lines, and packages use each other's public API only.</summary>
public sealed class PackageBoundaryTests
{
    private const int MaxLines = 400;

    [Fact]
    public void No_source_file_is_over_400_lines()
    {
        string src = Path.Combine(SourcePackages.RepoRoot, "src");
        string[] tooLong =
        [
            .. from file in Directory.EnumerateFiles(src, "*.cs", SearchOption.AllDirectories)
               let relative = Path.GetRelativePath(SourcePackages.RepoRoot, file)
               where !relative.Split(Path.DirectorySeparatorChar).Any(part => part is "bin" or "obj")
               let lines = File.ReadLines(file).Count()
               where lines > MaxLines
               orderby lines descending
               select $"{relative}: {lines} lines",
        ];
        Assert.True(tooLong.Length == 0, $"Files over {MaxLines} lines (a class that long has more than one job):\n{string.Join("\n", tooLong)}");
    }

    [Theory]
    [MemberData(nameof(LayeringTests.Packages), MemberType = typeof(LayeringTests))]
    public void A_package_shows_its_internals_to_no_other_package(string package)
    {
        using FileStream stream = File.OpenRead(SourcePackages.AssemblyPath(package));
        using var pe = new PEReader(stream);
        MetadataReader md = pe.GetMetadataReader();
        string[] friends =
        [
            .. from handle in md.GetAssemblyDefinition().GetCustomAttributes()
               let attribute = md.GetCustomAttribute(handle)
               where AttributeName(md, attribute) == "System.Runtime.CompilerServices.InternalsVisibleToAttribute"
               let friend = ((string)attribute.DecodeValue(new StringArguments()).FixedArguments[0].Value!).Split(',')[0].Trim()
               where SourcePackages.Names.Contains(friend)
               select friend,
        ];
        Assert.True(friends.Length == 0, $"{package} has InternalsVisibleTo for the packages {string.Join(", ", friends)}: they must use its public API.");
    }

    private static string AttributeName(MetadataReader md, CustomAttribute attribute)
    {
        EntityHandle type = attribute.Constructor.Kind == HandleKind.MemberReference
            ? md.GetMemberReference((MemberReferenceHandle)attribute.Constructor).Parent
            : md.GetMethodDefinition((MethodDefinitionHandle)attribute.Constructor).GetDeclaringType();
        if (type.Kind != HandleKind.TypeReference)
        {
            return "";
        }
        TypeReference reference = md.GetTypeReference((TypeReferenceHandle)type);
        return md.GetString(reference.Namespace) + "." + md.GetString(reference.Name);
    }

    /// <summary>Decodes InternalsVisibleTo's one string argument.</summary>
    private sealed class StringArguments : ICustomAttributeTypeProvider<string>
    {
        public string GetPrimitiveType(PrimitiveTypeCode typeCode) => typeCode.ToString();

        public string GetSystemType() => "System.Type";

        public string GetSZArrayType(string elementType) => elementType + "[]";

        public string GetTypeFromDefinition(MetadataReader reader, TypeDefinitionHandle handle, byte rawTypeKind) => reader.GetString(reader.GetTypeDefinition(handle).Name);

        public string GetTypeFromReference(MetadataReader reader, TypeReferenceHandle handle, byte rawTypeKind) => reader.GetString(reader.GetTypeReference(handle).Name);

        public string GetTypeFromSerializedName(string name) => name;

        public PrimitiveTypeCode GetUnderlyingEnumType(string type) => PrimitiveTypeCode.Int32;

        public bool IsSystemType(string type) => type == "System.Type";
    }
}
