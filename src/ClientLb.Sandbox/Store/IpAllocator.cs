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
    private static readonly HashSet<uint> ProcessWideClaims = [];
    // Starts at a random offset so sandboxes in different processes (parallel test runs) rarely pick the same addresses.
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

                if (_used.Contains(offset) || !ClaimProcessWide(_base + offset))
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
            if (_used.Contains(offset) || !ClaimProcessWide(_base + offset))
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
                lock (ProcessWideClaims)
                {
                    ProcessWideClaims.Remove(_base + offset);
                }
            }
        }
    }

    private bool ClaimProcessWide(uint address)
    {
        if (!_processWide)
        {
            return true;
        }

        lock (ProcessWideClaims)
        {
            return ProcessWideClaims.Add(address);
        }
    }
}
