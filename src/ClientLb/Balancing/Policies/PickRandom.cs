using System.Runtime.CompilerServices;

namespace ClientLb.Balancing.Policies;

/// <summary>
/// Random bits for picks: wyrand (Wang Yi's generator: a 64-bit counter mixed by one 64x64-to-128-bit multiply) with one
/// state per thread, seeded from <see cref="Random.Shared"/>. One add and one multiply per draw, where
/// <c>Random.Shared.NextInt64()</c> takes a virtual call and xoshiro256**'s four-word update: P2C's pick has a
/// &lt;= 10 ns target and the draw was almost half of it. Not for anything that needs unpredictable bits.
/// </summary>
internal static class PickRandom
{
    [ThreadStatic]
    private static ulong _state;

    /// <summary>64 random bits, from this thread's state.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Next()
    {
        if (_state == 0)
        {
            _state = Seed();
        }
        return Next(ref _state);
    }

    /// <summary>One wyrand step of <paramref name="state"/>: 64 random bits.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    public static ulong Next(ref ulong state)
    {
        state += 0xa0761d6478bd642f;
        ulong high = Math.BigMul(state, state ^ 0xe7037ed1a0b428db, out ulong low);
        return high ^ low;
    }

    // Never 0 (0 marks a thread not seeded yet).
    [MethodImpl(MethodImplOptions.NoInlining)]
    private static ulong Seed() => (ulong)Random.Shared.NextInt64() | 1;
}
