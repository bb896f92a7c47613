using System.Collections.Frozen;

namespace ClientLb.Sandbox.Api.Protobuf;

/// <summary>
/// What the Go types behind the upstream generated.proto files say about JSON that protobuf cannot: which fields
/// keep their zero value in JSON (pointers, and values without omitempty), and which messages are inlined into
/// their parent. Read from proto/go-fields.txt (made by proto/go-fields.py from the same upstream tag).
/// </summary>
internal static class GoFields
{
    private static readonly (FrozenSet<string> KeepZero, FrozenSet<string> Pointers, FrozenSet<string> Inline) Table = Load();

    /// <summary>A present field of this full name is written to JSON even when it holds its zero value.</summary>
    public static bool KeepsZero(string fullName) => Table.KeepZero.Contains(fullName);

    /// <summary>The Go field is a pointer: a present special value (Time, IntOrString) is written even when zero.</summary>
    public static bool IsPointer(string fullName) => Table.Pointers.Contains(fullName);

    /// <summary>The field's message is flattened into its parent's JSON object (Go's <c>json:",inline"</c>).</summary>
    public static bool IsInline(string fullName) => Table.Inline.Contains(fullName);

    private static (FrozenSet<string>, FrozenSet<string>, FrozenSet<string>) Load()
    {
        using Stream stream = typeof(GoFields).Assembly.GetManifestResourceStream("ClientLb.Sandbox.Api.Protobuf.go-fields.txt")
            ?? throw new InvalidOperationException("the embedded resource go-fields.txt is missing from ClientLb.Sandbox");
        using var reader = new StreamReader(stream);
        var keep = new List<string>();
        var pointers = new List<string>();
        var inline = new List<string>();
        while (reader.ReadLine() is { } line)
        {
            if (line.Length == 0 || line[0] == '#')
            {
                continue;
            }

            string[] parts = line.Split(' ', 2);
            switch (parts[0])
            {
                case "pointer": pointers.Add(parts[1]); keep.Add(parts[1]); break;
                case "always": keep.Add(parts[1]); break;
                case "inline": inline.Add(parts[1]); break;
                default: throw new InvalidOperationException($"go-fields.txt: unknown line \"{line}\"");
            }
        }
        return (keep.ToFrozenSet(StringComparer.Ordinal), pointers.ToFrozenSet(StringComparer.Ordinal), inline.ToFrozenSet(StringComparer.Ordinal));
    }
}
