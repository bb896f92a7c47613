namespace ClientLb.Balancing;

/// <summary>
/// Slow start in front of a policy's picker, used only while some endpoint is warming up: a warming endpoint that was
/// picked keeps the pick with probability equal to how far it is into its window (at least 10%), else the pick moves
/// to another endpoint, so its share ramps up linearly. The balancer drops this wrapper when the last window ends.
/// </summary>
internal sealed class SlowStartPicker(EndpointPicker inner, TimeProvider time) : EndpointPicker
{
    private const double MinimumShare = 0.1;

    public EndpointPicker Inner => inner;

    public override IReadOnlyList<BalancedEndpoint> Endpoints => inner.Endpoints;

    /// <summary>The share of its picks a warming endpoint keeps at <paramref name="now"/> (the one slow-start rule; diagnostics show it too).</summary>
    internal static double Share(long now, long start, long warmEnd) =>
        now >= warmEnd || warmEnd <= start ? 1 : Math.Max(MinimumShare, (double)(now - start) / (warmEnd - start));

    public override BalancedEndpoint Pick(in PickContext context)
    {
        BalancedEndpoint picked = inner.Pick(context);
        long warmEnd = picked.WarmEnd;
        if (warmEnd == 0)
        {
            return picked;
        }
        long now = time.GetTimestamp();
        long start = picked.WarmStart;
        if (now >= warmEnd || warmEnd <= start)
        {
            return picked;
        }
        if (Random.Shared.NextDouble() < Share(now, start, warmEnd))
        {
            return picked;
        }
        BalancedEndpoint other = inner.Pick(new PickContext(context.Request, picked));
        return ReferenceEquals(other, context.Exclude) ? picked : other;
    }
}
