using System.Net;
using System.Net.Sockets;

namespace ClientLb.Sandbox.Store;

/// <summary>
/// Hands out IPv4 addresses from a CIDR inside 127.0.0.0/8 (never a private or public range), skipping the
/// network and broadcast addresses. Thread-safe.
/// </summary>
internal sealed class IpAllocator
{
    private readonly Lock _lock = new();
    private readonly uint _base;
    private readonly uint _size;
    private readonly HashSet<uint> _used = [];
    private uint _next = 1;
    private readonly bool _processWide;

    // Pod addresses are bound by real sockets: clusters in one process (parallel tests) must not share them,
    // and a released address is not handed out again until the whole range has been used (as an IPAM would
    // avoid), so a client still talking to a deleted pod's address never reaches another cluster's new pod.
    // The value says whether the address counts towards a /24 block this process holds machine-wide.
    private static readonly Dictionary<uint, bool> ProcessWideClaims = [];
    // Sandboxes in other processes on the machine (parallel test runs) use the same loopback ranges: a process hands out
    // addresses only from /24 blocks it holds, each held by a Unix socket bound in the abstract namespace (per network
    // namespace, like the loopback addresses; gone with the process), with how many of its addresses are in use.
    private static readonly Dictionary<uint, (Socket Claim, int InUse)> HeldBlocks = [];
    // Starts at a random offset so sandboxes in different processes mostly claim different blocks.
    private static uint _processWideNext = (uint)Random.Shared.Next(1, 1 << 14);

    public IpAllocator(string cidr, string what, bool processWide = false)
    {
        _processWide = processWide;
        Cidr = cidr;
        (_base, int prefix) = ParseLoopbackCidr(cidr, what);
        _size = prefix == 32 ? 1u : 1u << (32 - prefix);
    }

    public string Cidr { get; }

    /// <summary>Parses "a.b.c.d/n" and insists it lies inside 127.0.0.0/8.</summary>
    public static (uint Base, int Prefix) ParseLoopbackCidr(string cidr, string what)
    {
        int slash = cidr.IndexOf('/');
        if (slash < 0 || !IPAddress.TryParse(cidr[..slash], out IPAddress? ip) || ip.AddressFamily != AddressFamily.InterNetwork
            || !int.TryParse(cidr[(slash + 1)..], out int prefix) || prefix is < 8 or > 30)
        {
            throw new ArgumentException($"{what} \"{cidr}\" is not an IPv4 CIDR with a prefix length between 8 and 30 (e.g. 127.96.0.0/16)", what);
        }

        byte[] bytes = ip.GetAddressBytes();
        if (bytes[0] != 127)
        {
            throw new ArgumentException($"{what} \"{cidr}\" must lie inside the loopback range 127.0.0.0/8 so sandbox traffic never leaves the machine", what);
        }

        uint value = (uint)bytes[0] << 24 | (uint)bytes[1] << 16 | (uint)bytes[2] << 8 | bytes[3];
        uint mask = prefix == 0 ? 0 : uint.MaxValue << (32 - prefix);
        if ((value & mask) != value)
        {
            throw new ArgumentException($"{what} \"{cidr}\" has host bits set; did you mean {ToIp(value & mask)}/{prefix}?", what);
        }

        return (value, prefix);
    }

    private static string ToIp(uint v) => $"{v >> 24}.{(v >> 16) & 255}.{(v >> 8) & 255}.{v & 255}";

    public bool Contains(string address)
    {
        if (!IPAddress.TryParse(address, out IPAddress? ip) || ip.AddressFamily != AddressFamily.InterNetwork)
        {
            return false;
        }

        byte[] b = ip.GetAddressBytes();
        uint v = (uint)b[0] << 24 | (uint)b[1] << 16 | (uint)b[2] << 8 | b[3];
        return v - _base < _size;
    }

    /// <summary>The next free address, or null when the range is exhausted.</summary>
    public string? Allocate()
    {
        lock (_lock)
        {
            for (uint i = 0; i < _size; i++)
            {
                uint offset;
                if (_processWide)
                {
                    lock (ProcessWideClaims)
                    {
                        offset = _processWideNext;
                        _processWideNext = _processWideNext + 1 >= _size - 1 ? 1 : _processWideNext + 1;
                    }
                }
                else
                {
                    offset = _next;
                    _next = _next + 1 >= _size - 1 ? 1 : _next + 1;
                }
                if (offset == 0 || offset >= _size - 1)
                {
                    continue;
                }

                if (_used.Contains(offset) || !ClaimProcessWide(_base + offset, blockRequired: true))
                {
                    continue;
                }

                _used.Add(offset);
                return ToIp(_base + offset);
            }
            return null;
        }
    }

    /// <summary>Claims a specific address; false when it is outside the range or already taken.</summary>
    public bool Reserve(string address)
    {
        if (!Contains(address))
        {
            return false;
        }

        byte[] b = IPAddress.Parse(address).GetAddressBytes();
        uint offset = ((uint)b[0] << 24 | (uint)b[1] << 16 | (uint)b[2] << 8 | b[3]) - _base;
        lock (_lock)
        {
            // An address asked for by name is the user's choice, even in a block another process holds.
            if (_used.Contains(offset) || !ClaimProcessWide(_base + offset, blockRequired: false))
            {
                return false;
            }

            return _used.Add(offset);
        }
    }

    public void Release(string address)
    {
        if (!Contains(address))
        {
            return;
        }

        byte[] b = IPAddress.Parse(address).GetAddressBytes();
        uint offset = ((uint)b[0] << 24 | (uint)b[1] << 16 | (uint)b[2] << 8 | b[3]) - _base;
        lock (_lock)
        {
            if (_used.Remove(offset) && _processWide)
            {
                ReleaseProcessWide(_base + offset);
            }
        }
    }

    private bool ClaimProcessWide(uint address, bool blockRequired)
    {
        if (!_processWide)
        {
            return true;
        }

        lock (ProcessWideClaims)
        {
            if (ProcessWideClaims.ContainsKey(address))
            {
                return false;
            }

            bool inHeldBlock = HoldBlock(address & BlockMask);
            if (!inHeldBlock && blockRequired)
            {
                return false;
            }

            ProcessWideClaims[address] = inHeldBlock;
            return true;
        }
    }

    private static void ReleaseProcessWide(uint address)
    {
        lock (ProcessWideClaims)
        {
            if (ProcessWideClaims.Remove(address, out bool inHeldBlock) && inHeldBlock
                && HeldBlocks.TryGetValue(address & BlockMask, out (Socket Claim, int InUse) block))
            {
                if (block.InUse > 1)
                {
                    HeldBlocks[address & BlockMask] = (block.Claim, block.InUse - 1);
                }
                else
                {
                    HeldBlocks.Remove(address & BlockMask);
                    block.Claim.Dispose();
                }
            }
        }
    }

    private const uint BlockMask = 0xFFFFFF00;

    /// <summary>The abstract Unix socket name that holds a /24 block of loopback addresses for one sandbox process.</summary>
    internal static string BlockClaimName(uint block) => "\0clientlb-sandbox-" + ToIp(block) + "/24";

    /// <summary>
    /// Counts one more address in <paramref name="block"/> when this process holds it or can claim it now; false when another
    /// process holds it. Where abstract Unix sockets do not exist (not Linux) blocks cannot be held: every block is free.
    /// </summary>
    private static bool HoldBlock(uint block)
    {
        if (HeldBlocks.TryGetValue(block, out (Socket Claim, int InUse) held))
        {
            HeldBlocks[block] = (held.Claim, held.InUse + 1);
            return true;
        }
        if (!OperatingSystem.IsLinux())
        {
            return true;
        }

        var claim = new Socket(AddressFamily.Unix, SocketType.Stream, ProtocolType.Unspecified);
        try
        {
            claim.Bind(new UnixDomainSocketEndPoint(BlockClaimName(block)));
        }
        catch (SocketException ex) when (ex.SocketErrorCode == SocketError.AddressAlreadyInUse)
        {
            claim.Dispose();
            return false;
        }
        HeldBlocks[block] = (claim, 1);
        return true;
    }
}
