namespace ClientLb.Agent.Interop;

/// <summary>Checks a named network namespace (<c>ip netns add NAME</c>, i.e. <c>/var/run/netns/NAME</c>).</summary>
internal static class NetworkNamespaceName
{
    public const string Directory = "/var/run/netns";

    /// <summary>Null when <paramref name="name"/> is a plain file name under <see cref="Directory"/>; otherwise why not.</summary>
    public static string? Check(string name)
    {
        if (name.Length is 0 or > 255 || name is "." or "..")
        {
            return $"the network namespace name '{Validation.NameRules.Display(name)}' is empty, too long or a dot name";
        }
        foreach (char c in name)
        {
            if (!(char.IsAsciiLetterOrDigit(c) || c is '-' or '_' or '.'))
            {
                return $"the network namespace name '{Validation.NameRules.Display(name)}' may only hold letters, digits, '-', '_' and '.'";
            }
        }
        return null;
    }

    public static string PathOf(string name) => Directory + "/" + name;
}
