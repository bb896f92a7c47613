using System.Diagnostics.Metrics;
using Microsoft.Extensions.Logging;

namespace ClientLb.Diagnostics;

/// <summary>
/// Reports a record a source refused (an endpoint with an unusable address, an SRV record with port 0, a target that
/// does not resolve): one log line (event 18) and the <c>clientlb.source.records_dropped</c> counter, each naming the
/// service, the source and the record. The rest of the service is served.
/// </summary>
public static class DroppedRecords
{
    /// <summary>The meter of source-side counters.</summary>
    public const string MeterName = "ClientLb.Sources";

    private static readonly Meter SourceMeter = new(MeterName);
    private static readonly Counter<long> Dropped = SourceMeter.CreateCounter<long>("clientlb.source.records_dropped", "{record}",
        "Records a source refused (bad address, port or target), by service, source and record.");

    /// <summary>Logs and counts one dropped record.</summary>
    /// <param name="logger">Receives the warning.</param>
    /// <param name="service">The service the record belongs to.</param>
    /// <param name="source">The source kind (<c>kubernetes</c>, <c>dns</c>, <c>configuration</c>, <c>agent</c>).</param>
    /// <param name="record">The record as received (shortened and escaped for display).</param>
    /// <param name="reason">Why it was refused.</param>
    public static void Report(ILogger logger, string service, string source, string record, string reason)
    {
        ArgumentNullException.ThrowIfNull(logger);
        Log.RecordDropped(logger, service, source, record, reason);
        if (Dropped.Enabled)
        {
            Dropped.Add(1, new KeyValuePair<string, object?>("service", service), new KeyValuePair<string, object?>("source", source),
                new KeyValuePair<string, object?>("record", record));
        }
    }
}
