using System.Diagnostics;
using ClientLb.Diagnostics;
using ClientLb.Tests.Infrastructure;

namespace ClientLb.Tests.Http;

public class DiagnosticsTests
{
    [Fact]
    public async Task The_chosen_endpoint_and_attempt_are_tagged_on_the_outgoing_request()
    {
        await using TestBackend a = await TestBackend.StartAsync("a", "127.0.4.2");
        var stopped = new List<Activity>();
        using var listener = new ActivityListener
        {
            ShouldListenTo = s => s.Name is ClientLbActivity.SourceName or "System.Net.Http",
            Sample = (ref ActivityCreationOptions<ActivityContext> _) => ActivitySamplingResult.AllDataAndRecorded,
            ActivityStopped = activity => { lock (stopped) { stopped.Add(activity); } },
        };
        ActivitySource.AddActivityListener(listener);
        using var picks = new MeasurementCollector("clientlb.picks", "tagged.default");

        // A refused endpoint first in line makes the request take two attempts.
        Dictionary<string, string?> config = ClientLbTestHost.Endpoints("tagged", a.Authority, "127.0.4.9:" + a.Port);
        await using var host = new ClientLbTestHost(config);
        HttpClient client = host.CreateClient("http://tagged");
        for (int i = 0; i < 4; i++)
        {
            await client.GetStringAsync("/");
        }

        Activity[] attempts, requests;
        lock (stopped)
        {
            // Other tests run in parallel: keep only this service's attempts and their children.
            attempts = [.. stopped.Where(x => x.OperationName == "ClientLb.Attempt" && (string?)x.GetTagItem(ClientLbActivity.ServiceTag) == "tagged.default")];
            requests = [.. stopped.Where(x => x.Source.Name == "System.Net.Http" && attempts.Any(p => p.SpanId == x.ParentSpanId))];
        }
        // Every attempt wraps exactly one outgoing HTTP request activity.
        Assert.Equal(attempts.Length, requests.Length);
        Assert.Equal(4, attempts.Count(x => (string)x.GetTagItem(ClientLbActivity.EndpointTag)! == a.Authority));
        Assert.Contains(attempts, x => (int)x.GetTagItem(ClientLbActivity.AttemptTag)! == 1 && (string)x.GetTagItem(ClientLbActivity.EndpointTag)! == a.Authority);
        Assert.Contains(attempts, x => x.Status == ActivityStatusCode.Error && ((string)x.GetTagItem(ClientLbActivity.EndpointTag)!).StartsWith("127.0.4.9:"));
        Assert.Equal(attempts.Length, picks.Total);
        Assert.Equal(4, a.Requests);
    }

    [Fact]
    public async Task Per_endpoint_latency_outstanding_and_attempt_duration_are_observable()
    {
        await using TestBackend a = await TestBackend.StartAsync("a", "127.0.4.3");
        await using var host = new ClientLbTestHost(ClientLbTestHost.Endpoints("observed", a.Authority));
        HttpClient client = host.CreateClient("http://observed");
        var values = new Dictionary<string, double>();
        using var listener = new System.Diagnostics.Metrics.MeterListener
        {
            InstrumentPublished = (instrument, l) =>
            {
                if (instrument.Meter.Name == "ClientLb" && instrument.Name is "clientlb.endpoint.latency" or "clientlb.endpoint.outstanding" or "clientlb.attempt.duration" or "clientlb.endpoint.ejected")
                {
                    l.EnableMeasurementEvents(instrument);
                }
            },
        };
        void Record(System.Diagnostics.Metrics.Instrument instrument, double value, ReadOnlySpan<KeyValuePair<string, object?>> tags)
        {
            foreach (KeyValuePair<string, object?> tag in tags)
            {
                if (tag.Key == "clientlb.service" && (string?)tag.Value == "observed.default")
                {
                    lock (values)
                    {
                        values[instrument.Name] = value;
                    }
                }
            }
        }
        listener.SetMeasurementEventCallback<double>((i, v, t, _) => Record(i, v, t));
        listener.SetMeasurementEventCallback<int>((i, v, t, _) => Record(i, v, t));
        listener.Start();

        for (int i = 0; i < 3; i++)
        {
            await client.GetStringAsync("/");
        }
        listener.RecordObservableInstruments();
        Assert.True(values["clientlb.endpoint.latency"] > 0);
        Assert.True(values["clientlb.attempt.duration"] > 0);
        Assert.Equal(0, values["clientlb.endpoint.outstanding"]);
        Assert.Equal(0, values["clientlb.endpoint.ejected"]);
    }
}
