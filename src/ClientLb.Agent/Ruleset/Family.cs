using System.Net.Sockets;

namespace ClientLb.Agent.Ruleset;

/// <summary>An nftables table family the agent programs, with its table and the words its rules use.</summary>
internal sealed class Family
{
    public static readonly Family V4 = new(AddressFamily.InterNetwork, "ip", "ip", "ipv4_addr");
    public static readonly Family V6 = new(AddressFamily.InterNetworkV6, "ip6", "ip6", "ipv6_addr");

    public static readonly IReadOnlyList<Family> All = [V4, V6];

    private Family(AddressFamily addressFamily, string nftFamily, string payload, string addressType)
    {
        AddressFamily = addressFamily;
        NftFamily = nftFamily;
        Payload = payload;
        AddressType = addressType;
        Table = nftFamily + " " + Layout.TableName;
    }

    public AddressFamily AddressFamily { get; }

    /// <summary><c>ip</c> or <c>ip6</c>.</summary>
    public string NftFamily { get; }

    /// <summary>The payload protocol for addresses in rules (<c>ip daddr</c>, <c>ip6 daddr</c>).</summary>
    public string Payload { get; }

    /// <summary>The nftables address type (<c>ipv4_addr</c>, <c>ipv6_addr</c>).</summary>
    public string AddressType { get; }

    /// <summary><c>ip clientlb</c> or <c>ip6 clientlb</c>.</summary>
    public string Table { get; }

    public static Family Of(AddressFamily family) => family == AddressFamily.InterNetwork ? V4 : V6;

    public override string ToString() => NftFamily;
}
