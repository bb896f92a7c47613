namespace ClientLb.Balancing.Policies;

/// <summary>
/// Endpoints in proportion to <see cref="Endpoints.Endpoint.Weight"/> (SRV weight, or <c>;weight=N</c> in configuration).
/// The picker precomputes nginx's smooth weighted round-robin order once per rebuild, so a pick is one interlocked
/// increment and an array read, and heavy endpoints are interleaved rather than served in bursts. When the reduced
/// weights add up to more than <see cref="MaxScheduleLength"/>, it falls back to Vose's alias method (random, exact in expectation).
/// </summary>
public sealed class WeightedPolicy : ILoadBalancingPolicy
{
    /// <summary>The policy name, <c>Weighted</c>.</summary>
    public const string PolicyName = "Weighted";

    /// <summary>The longest precomputed schedule (slots); larger weight sums use the alias method.</summary>
    public const int MaxScheduleLength = 1 << 16;

    /// <inheritdoc />
    public string Name => PolicyName;

    /// <inheritdoc />
    public EndpointPicker CreatePicker(IReadOnlyList<BalancedEndpoint> endpoints)
    {
        BalancedEndpoint[] array = PickerArrays.Of(endpoints);
        int[] weights = [.. array.Select(e => e.Endpoint.Weight)];
        int divisor = weights.Aggregate(0, Gcd);
        long total = 0;
        for (int i = 0; i < weights.Length; i++)
        {
            weights[i] /= divisor;
            total += weights[i];
        }
        // Building the schedule costs total x endpoints steps: keep a rebuild in the low milliseconds.
        return total <= MaxScheduleLength && total * array.Length <= 1 << 22 ? new SchedulePicker(array, SmoothSchedule(array, weights, (int)total)) : new AliasPicker(array, weights, total);
    }

    private static int Gcd(int a, int b) => b == 0 ? a : Gcd(b, a % b);

    // nginx's smooth weighted round-robin, run once: each step every endpoint gains its weight, the largest current
    // value is chosen and loses the total. Over `total` steps each endpoint is chosen exactly `weight` times.
    private static BalancedEndpoint[] SmoothSchedule(BalancedEndpoint[] endpoints, int[] weights, int total)
    {
        var schedule = new BalancedEndpoint[total];
        long[] current = new long[endpoints.Length];
        for (int step = 0; step < total; step++)
        {
            int best = 0;
            for (int i = 0; i < endpoints.Length; i++)
            {
                current[i] += weights[i];
                if (current[i] > current[best])
                {
                    best = i;
                }
            }
            current[best] -= total;
            schedule[step] = endpoints[best];
        }
        return schedule;
    }

    private sealed class SchedulePicker(BalancedEndpoint[] endpoints, BalancedEndpoint[] schedule) : EndpointPicker
    {
        private PaddedCounter _next = new(Random.Shared.Next());

        public override IReadOnlyList<BalancedEndpoint> Endpoints => endpoints;

        public override BalancedEndpoint Pick(in PickContext context)
        {
            uint length = (uint)schedule.Length;
            uint index = (uint)Interlocked.Increment(ref _next.Value) % length;
            BalancedEndpoint picked = schedule[index];
            if (ReferenceEquals(picked, context.Exclude) && endpoints.Length > 1)
            {
                // Walk to the next slot of another endpoint; a schedule interleaves, so this is short.
                for (uint step = 1; step < length && ReferenceEquals(picked, context.Exclude); step++)
                {
                    picked = schedule[(index + step) % length];
                }
            }
            return picked;
        }
    }

    private sealed class AliasPicker : EndpointPicker
    {
        private readonly BalancedEndpoint[] _endpoints;
        private readonly double[] _probability;
        private readonly int[] _alias;

        // Vose's alias method: each column holds its own share and the rest of one heavier endpoint.
        public AliasPicker(BalancedEndpoint[] endpoints, int[] weights, long total)
        {
            int n = endpoints.Length;
            _endpoints = endpoints;
            _probability = new double[n];
            _alias = new int[n];
            double[] scaled = new double[n];
            var small = new Stack<int>();
            var large = new Stack<int>();
            for (int i = 0; i < n; i++)
            {
                scaled[i] = (double)weights[i] * n / total;
                (scaled[i] < 1 ? small : large).Push(i);
            }
            while (small.Count > 0 && large.Count > 0)
            {
                int s = small.Pop(), l = large.Pop();
                _probability[s] = scaled[s];
                _alias[s] = l;
                scaled[l] = scaled[l] + scaled[s] - 1;
                (scaled[l] < 1 ? small : large).Push(l);
            }
            while (large.Count > 0)
            {
                _probability[large.Pop()] = 1;
            }
            while (small.Count > 0)
            {
                _probability[small.Pop()] = 1;
            }
        }

        public override IReadOnlyList<BalancedEndpoint> Endpoints => _endpoints;

        public override BalancedEndpoint Pick(in PickContext context)
        {
            BalancedEndpoint picked = Draw();
            if (ReferenceEquals(picked, context.Exclude) && _endpoints.Length > 1)
            {
                for (int i = 0; i < 8 && ReferenceEquals(picked, context.Exclude); i++)
                {
                    picked = Draw();
                }
                if (ReferenceEquals(picked, context.Exclude))
                {
                    int index = Array.IndexOf(_endpoints, picked);
                    picked = _endpoints[(index + 1) % _endpoints.Length];
                }
            }
            return picked;
        }

        private BalancedEndpoint Draw()
        {
            int column = Random.Shared.Next(_endpoints.Length);
            return _endpoints[Random.Shared.NextDouble() < _probability[column] ? column : _alias[column]];
        }
    }
}
