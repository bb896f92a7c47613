using System.Text;

namespace ClientLb.Dns.Protocol;

/// <summary>
/// Domain name text rules shared by the reader and writer. Names are written without the trailing dot
/// (the root is <c>.</c>); bytes that are not printable ASCII, <c>.</c> and <c>\</c> are escaped as in
/// zone files (<c>\DDD</c>, <c>\.</c>), so every wire name has exactly one text form.
/// </summary>
internal static class DnsName
{
    /// <summary>The root name.</summary>
    public const string Root = ".";

    /// <summary>The longest name on the wire, in bytes (RFC 1035 §2.3.4).</summary>
    public const int MaxWireLength = 255;

    /// <summary>The longest label, in bytes.</summary>
    public const int MaxLabelLength = 63;

    /// <summary>Compares names as DNS does: ASCII case-insensitive, ignoring a trailing dot.</summary>
    public static bool AreEqual(string? a, string? b)
    {
        if (a is null || b is null)
        {
            return a is null && b is null;
        }
        return Trim(a).Equals(Trim(b), StringComparison.OrdinalIgnoreCase);
    }

    /// <summary>Returns the canonical text form: no trailing dot (except the root itself).</summary>
    public static string Normalize(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        ReadOnlySpan<char> trimmed = Trim(name);
        return trimmed.IsEmpty ? Root : trimmed.Length == name.Length ? name : trimmed.ToString();
    }

    /// <summary>True when <paramref name="name"/> ends with a dot, i.e. it is written fully qualified and no search list applies.</summary>
    public static bool IsRooted(string name) => name.Length > 0 && name[^1] == '.' && BackslashesBefore(name, name.Length - 1) % 2 == 0;

    /// <summary>Counts the label separators (the dots outside escapes), as resolvers do for <c>ndots</c>.</summary>
    public static int CountDots(string name)
    {
        int dots = 0;
        for (int i = 0; i < name.Length; i++)
        {
            if (name[i] == '\\')
            {
                i++;
            }
            else if (name[i] == '.')
            {
                dots++;
            }
        }
        return dots;
    }

    /// <summary>Converts text to wire labels (without compression), validating label and name lengths.</summary>
    /// <exception cref="ArgumentException">The name has an empty or over-long label, a bad escape, or is over 255 bytes; the message quotes it.</exception>
    public static List<byte[]> ToLabels(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        var labels = new List<byte[]>();
        if (name is "" or Root)
        {
            return labels;
        }
        string text = IsRooted(name) ? name[..^1] : name;
        var label = new List<byte>(MaxLabelLength);
        int wire = 1;
        for (int i = 0; i <= text.Length; i++)
        {
            if (i == text.Length || text[i] == '.')
            {
                if (label.Count == 0)
                {
                    throw new ArgumentException($"The DNS name '{name}' has an empty label.", nameof(name));
                }
                wire += 1 + label.Count;
                labels.Add([.. label]);
                label.Clear();
                continue;
            }
            byte b;
            if (text[i] == '\\')
            {
                if (i + 1 >= text.Length)
                {
                    throw new ArgumentException($"The DNS name '{name}' ends with a lone '\\'.", nameof(name));
                }
                if (char.IsAsciiDigit(text[i + 1]))
                {
                    if (i + 3 >= text.Length || !char.IsAsciiDigit(text[i + 2]) || !char.IsAsciiDigit(text[i + 3]))
                    {
                        throw new ArgumentException($"The DNS name '{name}' has a '\\DDD' escape without three digits.", nameof(name));
                    }
                    int value = (text[i + 1] - '0') * 100 + (text[i + 2] - '0') * 10 + (text[i + 3] - '0');
                    if (value > 255)
                    {
                        throw new ArgumentException($"The DNS name '{name}' has the escape '\\{value}' above 255.", nameof(name));
                    }
                    b = (byte)value;
                    i += 3;
                }
                else
                {
                    b = ToByte(text[i + 1], name);
                    i++;
                }
            }
            else
            {
                b = ToByte(text[i], name);
            }
            if (label.Count == MaxLabelLength)
            {
                throw new ArgumentException($"The DNS name '{name}' has a label longer than {MaxLabelLength} bytes.", nameof(name));
            }
            label.Add(b);
        }
        if (wire > MaxWireLength)
        {
            throw new ArgumentException($"The DNS name '{name}' is {wire} bytes on the wire, more than {MaxWireLength}.", nameof(name));
        }
        return labels;
    }

    /// <summary>Appends one wire label to <paramref name="builder"/> in escaped text form.</summary>
    internal static void AppendLabel(StringBuilder builder, ReadOnlySpan<byte> label)
    {
        foreach (byte b in label)
        {
            if (b is (byte)'.' or (byte)'\\')
            {
                builder.Append('\\').Append((char)b);
            }
            else if (b is < 0x21 or > 0x7E)
            {
                builder.Append('\\').Append((char)('0' + b / 100)).Append((char)('0' + b / 10 % 10)).Append((char)('0' + b % 10));
            }
            else
            {
                builder.Append((char)b);
            }
        }
    }

    private static byte ToByte(char c, string name) =>
        c <= 0x7F ? (byte)c : throw new ArgumentException($"The DNS name '{name}' contains the non-ASCII character '{c}'; use its punycode (IDNA) form.", nameof(name));

    private static ReadOnlySpan<char> Trim(string name) => IsRooted(name) ? name.AsSpan(0, name.Length - 1) : name.AsSpan();

    // "a\\." is label 'a\' then a real dot, "a\." is label 'a.': an odd run of backslashes escapes the dot.
    private static int BackslashesBefore(string name, int position)
    {
        int count = 0;
        for (int i = position - 1; i >= 0 && name[i] == '\\'; i--)
        {
            count++;
        }
        return count;
    }
}
