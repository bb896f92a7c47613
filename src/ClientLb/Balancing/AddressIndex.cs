using System.Diagnostics.CodeAnalysis;
using ClientLb.Endpoints;

namespace ClientLb.Balancing;

/// <summary>
/// The balancer's endpoints by host and port (<see cref="Endpoint.AddressComparer"/>), each keyed by the endpoint it
/// points at now. Up to <see cref="SmallCount"/> of them are found by scanning a small array: most services have a
/// handful of endpoints, and a dictionary would cost each of them about 200 bytes more (issues 14 and 18). Past that, a
/// dictionary. A mutable struct held in one field of its owner; changed under the balancer's rebuild gate only.
/// </summary>
internal struct AddressIndex
{
    private const int SmallCount = 8;

    private BalancedEndpoint[]? _small;
    private int _count;
    private Dictionary<Endpoint, BalancedEndpoint>? _large;

    /// <summary>How many endpoints are indexed.</summary>
    public readonly int Count => _large?.Count ?? _count;

    /// <summary>The endpoint indexed under <paramref name="address"/>'s host and port.</summary>
    public readonly bool TryGetValue(Endpoint address, [MaybeNullWhen(false)] out BalancedEndpoint balanced)
    {
        if (_large is not null)
        {
            return _large.TryGetValue(address, out balanced);
        }
        int at = IndexOf(address);
        balanced = at >= 0 ? _small![at] : null;
        return at >= 0;
    }

    /// <summary>Indexes <paramref name="balanced"/> under its endpoint's host and port, which must not be indexed yet.</summary>
    public void Add(BalancedEndpoint balanced)
    {
        if (_large is not null)
        {
            _large.Add(balanced.Endpoint, balanced);
            return;
        }
        if (_count == SmallCount)
        {
            Promote(SmallCount * 2).Add(balanced.Endpoint, balanced);
            return;
        }
        if (_small is null || _count == _small.Length)
        {
            Array.Resize(ref _small, Math.Min(SmallCount, Math.Max(2, _count * 2)));
        }
        _small[_count++] = balanced;
    }

    /// <summary>Removes what is indexed under <paramref name="address"/>'s host and port, if anything.</summary>
    public bool Remove(Endpoint address, [MaybeNullWhen(false)] out BalancedEndpoint removed)
    {
        if (_large is not null)
        {
            return _large.Remove(address, out removed);
        }
        int at = IndexOf(address);
        if (at < 0)
        {
            removed = null;
            return false;
        }
        removed = _small![at];
        _small[at] = _small[--_count];
        _small[_count] = null!;
        return true;
    }

    /// <summary>
    /// Points <paramref name="balanced"/> (indexed) at <paramref name="endpoint"/>, the same host and port, and keys it by
    /// the new object, so the replaced endpoint is not kept alive by the key.
    /// </summary>
    public readonly void Rekey(BalancedEndpoint balanced, Endpoint endpoint)
    {
        if (_large is not null)
        {
            _large.Remove(endpoint);
            _large.Add(endpoint, balanced);
        }
        balanced.Update(endpoint);
    }

    /// <summary>Makes room for <paramref name="count"/> endpoints at once, rather than by doubling.</summary>
    public void EnsureCapacity(int count)
    {
        if (_large is not null)
        {
            _large.EnsureCapacity(count);
        }
        else if (count > SmallCount)
        {
            Promote(count);
        }
    }

    /// <summary>The indexed endpoints whose addresses are not in <paramref name="seen"/>; null when there are none.</summary>
    public readonly List<BalancedEndpoint>? NotIn(HashSet<Endpoint> seen)
    {
        List<BalancedEndpoint>? missing = null;
        if (_large is not null)
        {
            foreach ((Endpoint address, BalancedEndpoint balanced) in _large)
            {
                if (!seen.Contains(address))
                {
                    (missing ??= []).Add(balanced);
                }
            }
            return missing;
        }
        for (int i = 0; i < _count; i++)
        {
            if (!seen.Contains(_small![i].Endpoint))
            {
                (missing ??= []).Add(_small[i]);
            }
        }
        return missing;
    }

    /// <summary>Every indexed endpoint, copied.</summary>
    public readonly BalancedEndpoint[] ToArray() =>
        _large is not null ? [.. _large.Select(static p => p.Value)] : _small is null ? [] : _small.AsSpan(0, _count).ToArray();

    /// <summary>Removes everything.</summary>
    public void Clear()
    {
        _large = null;
        _small = null;
        _count = 0;
    }

    // Moves the small array's endpoints into a dictionary of the given capacity, which indexes from now on.
    private Dictionary<Endpoint, BalancedEndpoint> Promote(int capacity)
    {
        var large = new Dictionary<Endpoint, BalancedEndpoint>(capacity, Endpoint.AddressComparer);
        for (int i = 0; i < _count; i++)
        {
            large.Add(_small![i].Endpoint, _small[i]);
        }
        _small = null;
        _count = 0;
        return _large = large;
    }

    private readonly int IndexOf(Endpoint address)
    {
        for (int i = 0; i < _count; i++)
        {
            if (Endpoint.AddressComparer.Equals(_small![i].Endpoint, address))
            {
                return i;
            }
        }
        return -1;
    }
}
