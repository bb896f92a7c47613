using Microsoft.Extensions.Options;

namespace ClientLb.Dns.Configuration;

/// <summary>Checks <see cref="DnsSourceOptions"/> at first use; each failure names the option and its value.</summary>
internal sealed class DnsSourceOptionsValidator : IValidateOptions<DnsSourceOptions>
{
    /// <inheritdoc />
    public ValidateOptionsResult Validate(string? name, DnsSourceOptions options)
    {
        ArgumentNullException.ThrowIfNull(options);
        var errors = new List<string>();
        foreach (string server in options.Servers)
        {
            try
            {
                DnsServerAddress.Parse(server);
            }
            catch (FormatException ex)
            {
                errors.Add($"DnsSourceOptions.Servers: {ex.Message}");
            }
        }
        if (options.Servers.Count == 0 && string.IsNullOrWhiteSpace(options.ResolvConfPath))
        {
            errors.Add("DnsSourceOptions: set ResolvConfPath or Servers; with neither there is no name server to ask.");
        }
        Check(errors, options.Ndots is null or (>= 0 and <= 15), $"DnsSourceOptions.Ndots ({options.Ndots}) must be 0-15.");
        Check(errors, options.Attempts is null or (>= 1 and <= 5), $"DnsSourceOptions.Attempts ({options.Attempts}) must be 1-5.");
        Check(errors, options.Timeout is null || options.Timeout > TimeSpan.Zero, $"DnsSourceOptions.Timeout ({options.Timeout}) must be positive.");
        Check(errors, options.UdpPayloadSize == 0 || options.UdpPayloadSize is >= 512 and <= 4096, $"DnsSourceOptions.UdpPayloadSize ({options.UdpPayloadSize}) must be 0 (no EDNS) or 512-4096.");
        Check(errors, options.SrvProtocol is "tcp" or "udp", $"DnsSourceOptions.SrvProtocol ('{options.SrvProtocol}') must be 'tcp' or 'udp'.");
        Check(errors, options.MaxSrvTargets is >= 1 and <= 65535, $"DnsSourceOptions.MaxSrvTargets ({options.MaxSrvTargets}) must be 1-65535.");
        Check(errors, options.DefaultPort is null or (>= 1 and <= 65535), $"DnsSourceOptions.DefaultPort ({options.DefaultPort}) must be 1-65535.");
        Check(errors, Enum.IsDefined(options.Mode), $"DnsSourceOptions.Mode ({options.Mode}) is not a known mode.");
        Check(errors, options.AddressFamilies is DnsAddressFamilies.IPv4 or DnsAddressFamilies.IPv6 or DnsAddressFamilies.Both, $"DnsSourceOptions.AddressFamilies ({options.AddressFamilies}) must be IPv4, IPv6 or Both.");
        Check(errors, options.MinRefreshInterval > TimeSpan.Zero, $"DnsSourceOptions.MinRefreshInterval ({options.MinRefreshInterval}) must be positive.");
        Check(errors, options.MaxRefreshInterval >= options.MinRefreshInterval, $"DnsSourceOptions.MaxRefreshInterval ({options.MaxRefreshInterval}) must be at least MinRefreshInterval ({options.MinRefreshInterval}).");
        Check(errors, options.FailureBackoffInitial > TimeSpan.Zero, $"DnsSourceOptions.FailureBackoffInitial ({options.FailureBackoffInitial}) must be positive.");
        Check(errors, options.FailureBackoffMax >= options.FailureBackoffInitial, $"DnsSourceOptions.FailureBackoffMax ({options.FailureBackoffMax}) must be at least FailureBackoffInitial ({options.FailureBackoffInitial}).");
        Check(errors, options.EmptyAnswerGracePeriod >= TimeSpan.Zero, $"DnsSourceOptions.EmptyAnswerGracePeriod ({options.EmptyAnswerGracePeriod}) must not be negative.");
        return errors.Count == 0 ? ValidateOptionsResult.Success : ValidateOptionsResult.Fail(errors);
    }

    private static void Check(List<string> errors, bool ok, string message)
    {
        if (!ok)
        {
            errors.Add(message);
        }
    }
}
