using System.Globalization;
using ClientLb.Agent.Model;

namespace ClientLb.Agent.Diagnostics;

/// <summary>
/// The agent's counters for <c>/metrics</c> (Prometheus text format 0.0.4) and <c>/healthz</c>. Thread-safe; updated by
/// <see cref="NftablesAgent"/> after each sync. The HTTP endpoint itself belongs to the host (the CLI).
/// </summary>
public sealed class AgentMetrics
{
    private readonly object _gate = new();
    private readonly Histogram _syncDuration = new("clientlb_agent_sync_duration_seconds", "Time from a sync call to the kernel's acknowledgement.");
    private readonly Histogram _programming = new("clientlb_agent_network_programming_duration_seconds",
        "Time from the agent receiving a Service or EndpointSlice change to the change being programmed in the kernel.");
    private long _failures;
    private long _rejectedTotal;
    private long _conntrackFailures;
    private long _droppedEndpoints;
    private int _rejectedLast;
    private int _services;
    private int _elements;
    private DateTimeOffset? _lastSuccess;
    private string? _lastError;

    /// <summary>When the last sync succeeded, or null.</summary>
    public DateTimeOffset? LastSuccess
    {
        get
        {
            lock (_gate)
            {
                return _lastSuccess;
            }
        }
    }

    /// <summary>The last sync's error, or null when it succeeded.</summary>
    public string? LastError
    {
        get
        {
            lock (_gate)
            {
                return _lastError;
            }
        }
    }

    /// <summary>Healthy: the last sync succeeded, no longer than <paramref name="maxAge"/> ago (0 for any age).</summary>
    public bool IsHealthy(TimeSpan maxAge, DateTimeOffset now)
    {
        lock (_gate)
        {
            return _lastError is null && _lastSuccess is DateTimeOffset last && (maxAge <= TimeSpan.Zero || now - last <= maxAge);
        }
    }

    internal void RecordSuccess(SyncResult result, int services, int elements, DateTimeOffset now)
    {
        lock (_gate)
        {
            _syncDuration.Observe(result.Duration);
            _rejectedLast = result.Rejected.Count;
            _rejectedTotal += result.Rejected.Count;
            _conntrackFailures += result.ConntrackFailures.Count;
            _droppedEndpoints += result.DroppedEndpoints.Count;
            _services = services;
            _elements = elements;
            _lastSuccess = now;
            _lastError = null;
        }
    }

    internal void RecordFailure(TimeSpan duration, string error)
    {
        lock (_gate)
        {
            _syncDuration.Observe(duration);
            _failures++;
            _lastError = error;
        }
    }

    /// <summary>Writes every metric in the Prometheus text format.</summary>
    public void WritePrometheus(TextWriter output)
    {
        ArgumentNullException.ThrowIfNull(output);
        lock (_gate)
        {
            _syncDuration.Write(output);
            _programming.Write(output);
            Line(output, "clientlb_agent_sync_failures_total", "counter", "Syncs the kernel refused (nothing of them applied).", _failures);
            Line(output, "clientlb_agent_services", "gauge", "Services programmed.", _services);
            Line(output, "clientlb_agent_elements", "gauge", "nftables set and map elements programmed.", _elements);
            Line(output, "clientlb_agent_rejected_services", "gauge", "Services rejected by the last sync.", _rejectedLast);
            Line(output, "clientlb_agent_rejected_services_total", "counter", "Service rejections over all syncs.", _rejectedTotal);
            Line(output, "clientlb_agent_dropped_endpoints_total", "counter", "Invalid endpoints left out of services programmed without them.", _droppedEndpoints);
            Line(output, "clientlb_agent_conntrack_failures_total", "counter", "Conntrack cleanups that failed.", _conntrackFailures);
            Line(output, "clientlb_agent_last_sync_success_timestamp_seconds", "gauge", "Unix time of the last successful sync.", _lastSuccess?.ToUnixTimeSeconds() ?? 0);
        }
    }

    /// <summary>Records how long a watched change took to reach the kernel (network programming latency).</summary>
    internal void RecordProgrammingLatency(TimeSpan latency)
    {
        lock (_gate)
        {
            _programming.Observe(latency);
        }
    }

    /// <summary>A Prometheus histogram over seconds; callers hold the metrics lock.</summary>
    private sealed class Histogram(string name, string help)
    {
        private static readonly double[] Buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5];
        private readonly long[] _counts = new long[Buckets.Length];
        private double _sum;
        private long _count;

        public void Observe(TimeSpan duration)
        {
            double seconds = duration.TotalSeconds;
            _count++;
            _sum += seconds;
            int i = Array.FindIndex(Buckets, b => seconds <= b);
            if (i >= 0)
            {
                _counts[i]++;
            }
        }

        public void Write(TextWriter output)
        {
            output.Write($"# HELP {name} {help}\n# TYPE {name} histogram\n");
            long cumulative = 0;
            for (int i = 0; i < Buckets.Length; i++)
            {
                cumulative += _counts[i];
                output.Write($"{name}_bucket{{le=\"{Buckets[i].ToString(CultureInfo.InvariantCulture)}\"}} {cumulative}\n");
            }
            output.Write($"{name}_bucket{{le=\"+Inf\"}} {_count}\n");
            output.Write($"{name}_sum {_sum.ToString("R", CultureInfo.InvariantCulture)}\n");
            output.Write($"{name}_count {_count}\n");
        }
    }

    private static void Line(TextWriter output, string name, string type, string help, long value) =>
        output.Write($"# HELP {name} {help}\n# TYPE {name} {type}\n{name} {value.ToString(CultureInfo.InvariantCulture)}\n");
}
