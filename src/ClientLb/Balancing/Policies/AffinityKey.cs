using System.Net.Http.Headers;
using System.Runtime.CompilerServices;

namespace ClientLb.Balancing.Policies;

/// <summary>
/// Reads a request's affinity key (<see cref="AffinityOptions"/>) and hashes it with a hash that is the same in every
/// process (FNV-1a then a 64-bit finalizer), so every replica of a client maps a key to the same endpoint. Allocation-free.
/// </summary>
internal readonly struct AffinityKey
{
    private readonly AffinityKeySource _source;
    private readonly string? _name;
    private readonly ulong _clientIpHash;

    public AffinityKey(AffinityOptions options, LocalityOptions locality)
    {
        _source = options.Key;
        _name = options.Name;
        // Without a configured address every request of this process shares one key, as kube-proxy sees one client IP.
        _clientIpHash = Hash(locality.Address ?? Environment.MachineName);
    }

    /// <summary>Hashes the key of <paramref name="request"/>; false when the request carries none.</summary>
    public bool TryGetHash(HttpRequestMessage? request, out ulong hash)
    {
        switch (_source)
        {
            case AffinityKeySource.ClientIp:
                hash = _clientIpHash;
                return true;
            case AffinityKeySource.Header when request is not null && request.Headers.NonValidated.TryGetValues(_name!, out HeaderStringValues values):
                foreach (string value in values)
                {
                    hash = Hash(value);
                    return true;
                }
                break;
            case AffinityKeySource.Cookie when request is not null && request.Headers.NonValidated.TryGetValues("Cookie", out HeaderStringValues cookies):
                foreach (string header in cookies)
                {
                    if (TryFindCookie(header, _name!, out ReadOnlySpan<char> value))
                    {
                        hash = Hash(value);
                        return true;
                    }
                }
                break;
            case AffinityKeySource.Caller when request is not null && request.Options.TryGetValue(ClientLbRequestOptions.AffinityKey, out string? key) && key is not null:
                hash = Hash(key);
                return true;
        }
        hash = 0;
        return false;
    }

    /// <summary>Finds <paramref name="name"/> in a <c>Cookie</c> header (<c>a=1; b=2</c>).</summary>
    internal static bool TryFindCookie(ReadOnlySpan<char> header, string name, out ReadOnlySpan<char> value)
    {
        while (!header.IsEmpty)
        {
            int end = header.IndexOf(';');
            ReadOnlySpan<char> pair = (end < 0 ? header : header[..end]).Trim();
            header = end < 0 ? default : header[(end + 1)..];
            int equals = pair.IndexOf('=');
            if (equals > 0 && pair[..equals].TrimEnd().SequenceEqual(name))
            {
                value = pair[(equals + 1)..].Trim().Trim('"');
                return true;
            }
        }
        value = default;
        return false;
    }

    /// <summary>
    /// A stable 64-bit hash of text, the same in every process: the UTF-16 code units taken 4 at a time (8 bytes,
    /// little-endian), each block xored in and multiplied by a large odd constant with a rotation, then murmur3's
    /// finalizer. Not cryptographic: keys are routing hints, not secrets.
    /// </summary>
    public static ulong Hash(ReadOnlySpan<char> text)
    {
        ReadOnlySpan<byte> bytes = System.Runtime.InteropServices.MemoryMarshal.AsBytes(text);
        ulong hash = 14695981039346656037UL ^ (ulong)bytes.Length;
        while (bytes.Length >= 8)
        {
            hash = System.Numerics.BitOperations.RotateLeft((hash ^ System.Buffers.Binary.BinaryPrimitives.ReadUInt64LittleEndian(bytes)) * 0x9E3779B97F4A7C15UL, 29);
            bytes = bytes[8..];
        }
        ulong tail = 0;
        for (int i = 0; i < bytes.Length; i++)
        {
            tail |= (ulong)bytes[i] << (8 * i);
        }
        hash = (hash ^ tail) * 0x9E3779B97F4A7C15UL;
        return Mix(hash);
    }

    /// <summary>murmur3's 64-bit finalizer.</summary>
    public static ulong Mix(ulong h)
    {
        h ^= h >> 33;
        h *= 0xff51afd7ed558ccdUL;
        h ^= h >> 33;
        h *= 0xc4ceb9fe1a85ec53UL;
        h ^= h >> 33;
        return h;
    }
}
