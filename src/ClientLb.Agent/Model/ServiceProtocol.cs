namespace ClientLb.Agent.Model;

/// <summary>The transport protocols the agent programs: the fixed set a Kubernetes Service port may use.</summary>
public enum ServiceProtocol
{
    /// <summary>TCP (<c>protocol: TCP</c>).</summary>
    Tcp,

    /// <summary>UDP (<c>protocol: UDP</c>).</summary>
    Udp,

    /// <summary>SCTP (<c>protocol: SCTP</c>).</summary>
    Sctp,
}

/// <summary>Parses the Kubernetes spelling of <see cref="ServiceProtocol"/>.</summary>
public static class ServiceProtocols
{
    /// <summary>
    /// Parses <c>TCP</c>, <c>UDP</c> or <c>SCTP</c> (exactly as the API spells them; a missing protocol means TCP).
    /// Anything else fails with an error naming the value.
    /// </summary>
    public static bool TryParse(string? text, out ServiceProtocol protocol, out string? error)
    {
        switch (text)
        {
            case null or "" or "TCP":
                protocol = ServiceProtocol.Tcp;
                error = null;
                return true;
            case "UDP":
                protocol = ServiceProtocol.Udp;
                error = null;
                return true;
            case "SCTP":
                protocol = ServiceProtocol.Sctp;
                error = null;
                return true;
            default:
                protocol = default;
                error = $"the protocol '{Shorten(text)}' is not one of TCP, UDP, SCTP";
                return false;
        }
    }

    /// <summary>The nftables keyword (<c>tcp</c>, <c>udp</c>, <c>sctp</c>) for a defined value.</summary>
    internal static string Keyword(ServiceProtocol protocol) => protocol switch
    {
        ServiceProtocol.Tcp => "tcp",
        ServiceProtocol.Udp => "udp",
        ServiceProtocol.Sctp => "sctp",
        _ => throw new ArgumentOutOfRangeException(nameof(protocol), protocol, "Not a defined ServiceProtocol."),
    };

    internal static string Shorten(string text) => text.Length <= 64 ? text : text[..64] + "...";
}
