namespace ClientLb.Agent.Validation;

/// <summary>Kubernetes name rules the agent checks so a hostile object is rejected by name, never passed on.</summary>
internal static class NameRules
{
    /// <summary>A DNS-1123 label: 1-63 of <c>[a-z0-9-]</c>, starting and ending with a letter or digit.</summary>
    public static string? CheckLabel(string value, string what)
    {
        if (value.Length == 0)
        {
            return $"the {what} is empty";
        }
        if (value.Length > 63)
        {
            return $"the {what} is {value.Length} characters long (at most 63)";
        }
        for (int i = 0; i < value.Length; i++)
        {
            char c = value[i];
            bool alnum = c is >= 'a' and <= 'z' or >= '0' and <= '9';
            if (!alnum && !(c == '-' && i > 0 && i < value.Length - 1))
            {
                return $"the {what} '{Display(value)}' is not a DNS-1123 label (lower-case letters, digits and inner '-')";
            }
        }
        return null;
    }

    /// <summary>An IANA service name as Kubernetes checks port names: 1-15 of <c>[a-z0-9-]</c>, a letter somewhere, no '--'.</summary>
    public static string? CheckPortName(string value)
    {
        if (value.Length > 15)
        {
            return $"the port name is {value.Length} characters long (at most 15)";
        }
        string? label = CheckLabel(value, "port name");
        if (label is not null)
        {
            return label;
        }
        if (value.Contains("--", StringComparison.Ordinal) || !value.Any(char.IsAsciiLetterLower))
        {
            return $"the port name '{Display(value)}' is not an IANA service name";
        }
        return null;
    }

    /// <summary>Shows untrusted text in a message: at most 64 characters, control characters escaped.</summary>
    public static string Display(string value)
    {
        string shortened = value.Length <= 64 ? value : value[..64] + "...";
        var chars = new System.Text.StringBuilder(shortened.Length);
        foreach (char c in shortened)
        {
            if (char.IsControl(c))
            {
                chars.Append("\\u").Append(((int)c).ToString("x4", System.Globalization.CultureInfo.InvariantCulture));
            }
            else
            {
                chars.Append(c);
            }
        }
        return chars.ToString();
    }
}
