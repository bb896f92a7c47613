namespace ClientLb.Balancing.Policies;

/// <summary>
/// Latency-aware power of two choices, as linkerd2-proxy balances: each endpoint's cost is its peak-EWMA latency
/// (a slower answer raises it at once, faster ones bring it down over the decay time) decayed to now, times
/// (outstanding requests + 1). Of two random endpoints the cheaper wins, so traffic leaves an endpoint as soon as
/// it slows down and returns as its estimate decays.
/// </summary>
public sealed class PeakEwmaPolicy : ILoadBalancingPolicy
{
    /// <summary>The policy name, <c>PeakEwma</c>.</summary>
    public const string PolicyName = "PeakEwma";

    /// <inheritdoc />
    public string Name => PolicyName;

    /// <inheritdoc />
    public EndpointPicker CreatePicker(IReadOnlyList<BalancedEndpoint> endpoints) =>
        CreatePicker(endpoints, new PolicyContext("unnamed"));

    /// <inheritdoc />
    public EndpointPicker CreatePicker(IReadOnlyList<BalancedEndpoint> endpoints, PolicyContext context)
    {
        PeakEwmaOptions options = context.Options.PeakEwma;
        double frequency = context.TimeProvider.TimestampFrequency;
        double decayTicks = options.DecayTime.TotalSeconds * frequency;
        double defaultTicks = options.DefaultLatency.TotalSeconds * frequency;
        long now = context.TimeProvider.GetTimestamp();
        // An endpoint that has not answered starts at the mean of those that have (the default latency when none has),
        // decaying from now as linkerd2-proxy's default RTT does: a new endpoint then neither starves behind fast
        // measured ones nor draws every request before its first answer.
        double sum = 0;
        int measured = 0;
        foreach (BalancedEndpoint endpoint in endpoints)
        {
            if (endpoint.HasLatency)
            {
                sum += endpoint.LatencyEstimate(now, decayTicks, defaultTicks);
                measured++;
            }
        }
        double seed = measured > 0 ? sum / measured : defaultTicks;
        foreach (BalancedEndpoint endpoint in endpoints)
        {
            endpoint.SeedLatency(now, seed);
        }
        return new Picker([.. endpoints], decayTicks, defaultTicks);
    }

    private sealed class Picker(BalancedEndpoint[] endpoints, double decayTicks, double defaultTicks) : EndpointPicker
    {
        public override IReadOnlyList<BalancedEndpoint> Endpoints => endpoints;

        public override BalancedEndpoint Pick(in PickContext context)
        {
            BalancedEndpoint[] all = endpoints;
            if (all.Length == 1)
            {
                return all[0];
            }
            (BalancedEndpoint a, BalancedEndpoint b) = PowerOfTwoChoicesPolicy.TwoDistinct(all);
            if (ReferenceEquals(a, context.Exclude))
            {
                return b;
            }
            if (ReferenceEquals(b, context.Exclude))
            {
                return a;
            }
            // Both estimates decay to now by exp(-(now - stamp) / decay); the common factor exp(-now / decay) cancels in
            // the comparison, so the pick needs neither the clock nor a second exp: compare
            // a x (outstanding + 1) x exp((stampA - stampB) / decay) with b x (outstanding + 1).
            double latencyA = a.RawLatency(out long stampA);
            double latencyB = b.RawLatency(out long stampB);
            if (latencyA < 0)
            {
                (latencyA, stampA) = (defaultTicks, stampB);
            }
            if (latencyB < 0)
            {
                (latencyB, stampB) = (defaultTicks, stampA);
            }
            double exponent = Math.Clamp((stampA - stampB) / decayTicks, -700, 700);
            double costA = latencyA * (a.Outstanding + 1) * Math.Exp(exponent);
            double costB = latencyB * (b.Outstanding + 1);
            return costB < costA ? b : a;
        }
    }
}
