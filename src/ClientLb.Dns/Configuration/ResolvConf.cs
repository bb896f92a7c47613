using System.Globalization;
using System.Net;

namespace ClientLb.Dns.Configuration;

/// <summary>
/// The resolver settings of a <c>resolv.conf</c> file, read as glibc reads it (resolv.conf(5)): <c>nameserver</c>
/// (up to 3, in order), <c>search</c>/<c>domain</c> (the last one wins), <c>options ndots:N timeout:N attempts:N rotate</c>.
/// Like glibc, lines it cannot use are skipped; unlike glibc, each is reported in <see cref="Warnings"/> with its line.
/// </summary>
internal sealed record ResolvConf
{
    /// <summary>glibc's MAXNS: later nameserver lines are ignored.</summary>
    public const int MaxNameservers = 3;

    /// <summary>Where the settings came from (a path, or <c>text</c>).</summary>
    public string Origin { get; init; } = "resolv.conf";

    /// <summary>The name servers, in order.</summary>
    public IReadOnlyList<IPAddress> Nameservers { get; init; } = [];

    /// <summary>The search domains, in order.</summary>
    public IReadOnlyList<string> Search { get; init; } = [];

    /// <summary>Names with fewer dots than this are tried with the search domains first (default 1, at most 15; Kubernetes pods use 5).</summary>
    public int Ndots { get; init; } = 1;

    /// <summary>The per-attempt timeout (default 5 s, at most 30 s).</summary>
    public TimeSpan Timeout { get; init; } = TimeSpan.FromSeconds(5);

    /// <summary>How many rounds over the name servers (default 2, at most 5).</summary>
    public int Attempts { get; init; } = 2;

    /// <summary>Spread queries over the name servers instead of always starting with the first.</summary>
    public bool Rotate { get; init; }

    /// <summary>Lines that were skipped and why, as <c>origin:line: reason</c>.</summary>
    public IReadOnlyList<string> Warnings { get; init; } = [];

    /// <summary>Reads and parses <paramref name="path"/>.</summary>
    /// <exception cref="IOException">The file cannot be read; the message names it.</exception>
    public static ResolvConf Load(string path)
    {
        string text;
        try
        {
            text = File.ReadAllText(path);
        }
        catch (Exception ex) when (ex is IOException or UnauthorizedAccessException)
        {
            throw new IOException($"Cannot read the resolver configuration '{path}': {ex.Message}", ex);
        }
        return Parse(text, path);
    }

    /// <summary>Parses resolv.conf text; <paramref name="origin"/> names it in warnings.</summary>
    public static ResolvConf Parse(string text, string origin = "resolv.conf")
    {
        ArgumentNullException.ThrowIfNull(text);
        var servers = new List<IPAddress>();
        IReadOnlyList<string> search = [];
        int ndots = 1, attempts = 2, timeoutSeconds = 5;
        bool rotate = false;
        var warnings = new List<string>();
        string[] lines = text.Split('\n');
        for (int n = 0; n < lines.Length; n++)
        {
            string line = lines[n].Trim();
            if (line.Length == 0 || line[0] is '#' or ';')
            {
                continue;
            }
            string[] words = line.Split([' ', '\t'], StringSplitOptions.RemoveEmptyEntries);
            void Warn(string reason) => warnings.Add($"{origin}:{n + 1}: {reason}");
            switch (words[0])
            {
                case "nameserver":
                    if (words.Length < 2 || !IPAddress.TryParse(words[1], out IPAddress? address))
                    {
                        Warn($"'{line}' does not give an IP address; skipped");
                    }
                    else if (servers.Count == MaxNameservers)
                    {
                        Warn($"more than {MaxNameservers} nameservers; '{words[1]}' is ignored as glibc ignores it");
                    }
                    else
                    {
                        servers.Add(address);
                    }
                    break;
                case "search":
                case "domain":
                    search = words.Skip(1).Select(d => d.TrimEnd('.')).Where(d => d.Length > 0).ToArray();
                    break;
                case "options":
                    foreach (string option in words.Skip(1))
                    {
                        ParseOption(option, ref ndots, ref timeoutSeconds, ref attempts, ref rotate, Warn);
                    }
                    break;
                case "sortlist":
                    break;
                default:
                    Warn($"unknown keyword '{words[0]}'; skipped");
                    break;
            }
        }
        return new ResolvConf
        {
            Origin = origin,
            Nameservers = servers,
            Search = search,
            Ndots = ndots,
            Timeout = TimeSpan.FromSeconds(timeoutSeconds),
            Attempts = attempts,
            Rotate = rotate,
            Warnings = warnings,
        };
    }

    private static void ParseOption(string option, ref int ndots, ref int timeout, ref int attempts, ref bool rotate, Action<string> warn)
    {
        int colon = option.IndexOf(':');
        string name = colon < 0 ? option : option[..colon];
        string? value = colon < 0 ? null : option[(colon + 1)..];
        switch (name)
        {
            case "ndots":
                ndots = Bounded(name, value, 0, 15, ndots, warn);
                break;
            case "timeout":
                timeout = Bounded(name, value, 1, 30, timeout, warn);
                break;
            case "attempts":
                attempts = Bounded(name, value, 1, 5, attempts, warn);
                break;
            case "rotate":
                rotate = true;
                break;
            default:
                // glibc has many more options (edns0, single-request, trust-ad...): they do not change what we send.
                break;
        }
    }

    // glibc clamps out-of-range values to the limit; a non-number keeps the previous value.
    private static int Bounded(string name, string? value, int min, int max, int current, Action<string> warn)
    {
        if (!int.TryParse(value, NumberStyles.None, CultureInfo.InvariantCulture, out int parsed))
        {
            warn($"'options {name}:{value}' is not a whole number; keeping {current}");
            return current;
        }
        if (parsed < min || parsed > max)
        {
            int clamped = Math.Clamp(parsed, min, max);
            warn($"'options {name}:{parsed}' is outside {min}-{max}; using {clamped}");
            return clamped;
        }
        return parsed;
    }
}
