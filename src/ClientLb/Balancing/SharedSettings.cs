namespace ClientLb.Balancing;

/// <summary>
/// One instance for equal per-service settings: each service computes its settings from its options, and services on
/// equal options (most, on the defaults) keep the last equal instance made rather than a copy each (issues 14, 18).
/// </summary>
internal static class SharedSettings
{
    /// <summary>The instance kept in <paramref name="last"/> when it equals <paramref name="made"/>; else <paramref name="made"/>, which is kept from now on.</summary>
    public static T Share<T>(ref T? last, T made) where T : class, IEquatable<T>
    {
        T? shared = Volatile.Read(ref last);
        if (shared is not null && made.Equals(shared))
        {
            return shared;
        }
        Volatile.Write(ref last, made);
        return made;
    }
}
