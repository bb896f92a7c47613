using System.Net;
using System.Text;
using ClientLb.Sandbox.Tests.Infrastructure;
using ClientLb.Testing;

namespace ClientLb.Sandbox.Tests.Controllers;

/// <summary>A pod's fail and delay annotations (what the sandbox view's Fail and Slow buttons set), over the API.</summary>
public class PodFaultTests
{
    private static async Task AnnotateAsync(SandboxCluster cluster, string pod, string annotations)
    {
        using HttpClient api = cluster.CreateHttpClient();
        using var patch = new HttpRequestMessage(HttpMethod.Patch, new Uri(cluster.ApiServerUri, $"api/v1/namespaces/default/pods/{pod}"))
        {
            Content = new StringContent("{\"metadata\":{\"annotations\":" + annotations + "}}", Encoding.UTF8, "application/merge-patch+json"),
        };
        (await api.SendAsync(patch)).EnsureSuccessStatusCode();
    }

    // The runtime applies an annotation when it reconciles the pod: wait (bounded) until an answer shows it.
    private static async Task<HttpResponseMessage> AnswerWhenAsync(Uri pod, Func<HttpResponseMessage, bool> condition)
    {
        using var http = new HttpClient();
        CancellationToken deadline = Deadline.In();
        while (true)
        {
            HttpResponseMessage response = await http.GetAsync(pod, deadline);
            if (condition(response))
            {
                return response;
            }
            response.Dispose();
            await Task.Delay(20, deadline);
        }
    }

    private static async Task<string> LogWhenAsync(SandboxCluster cluster, string pod, string text)
    {
        using HttpClient api = cluster.CreateHttpClient();
        CancellationToken deadline = Deadline.In();
        while (true)
        {
            string log = await api.GetStringAsync(new Uri(cluster.ApiServerUri, $"api/v1/namespaces/default/pods/{pod}/log"), deadline);
            if (log.Contains(text, StringComparison.Ordinal))
            {
                return log;
            }
            await Task.Delay(20, deadline);
        }
    }

    [Fact]
    public async Task A_pod_fails_with_the_annotated_status_answers_late_with_the_annotated_delay_and_reports_a_bad_value()
    {
        var clock = new TrackingTimeProvider();
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { TimeProvider = clock });
        await cluster.CreateDeploymentAsync("faulty", 1, containerPort: 8080);
        await cluster.WaitUntilAsync(c => c.GetPods("app=faulty").Count(p => p.Ready) == 1, Deadline.In());
        SandboxPod pod = cluster.GetPods("app=faulty")[0];
        Uri address = pod.GetUri(8080);

        await AnnotateAsync(cluster, pod.Name, "{\"sandbox.clientlb.io/fail-status\":\"503\"}");
        using (HttpResponseMessage failed = await AnswerWhenAsync(address, r => r.StatusCode != HttpStatusCode.OK))
        {
            Assert.Equal(HttpStatusCode.ServiceUnavailable, failed.StatusCode);
            Assert.Equal("sandbox fault: sandbox.clientlb.io/fail-status=503", await failed.Content.ReadAsStringAsync());
        }

        await AnnotateAsync(cluster, pod.Name, "{\"sandbox.clientlb.io/fail-status\":null,\"sandbox.clientlb.io/delay-ms\":\"300\"}");
        using (var http = new HttpClient())
        {
            // Until the runtime applies the annotation the pod fails at once; from then on it holds each answer 300 ms
            // on the cluster's clock.
            Task held = clock.WaitForTimerAsync(TimeSpan.FromSeconds(30), dueIn => dueIn == TimeSpan.FromMilliseconds(300));
            Task<HttpResponseMessage> slow;
            while (true)
            {
                slow = http.GetAsync(address);
                if (await Task.WhenAny(slow, held) == held)
                {
                    break;
                }
                (await slow).Dispose();
            }
            await held;
            clock.Advance(TimeSpan.FromMilliseconds(299));
            Assert.False(slow.IsCompleted, "answered before its 300 ms delay");
            Assert.Contains(TimeSpan.FromMilliseconds(1), clock.PendingDelays());
            clock.Advance(TimeSpan.FromMilliseconds(1));
            using HttpResponseMessage answer = await slow.WaitAsync(TimeSpan.FromSeconds(30));
            Assert.Equal(HttpStatusCode.OK, answer.StatusCode);
        }

        // Not a 5xx: nothing is injected, and the pod's log says why.
        await AnnotateAsync(cluster, pod.Name, "{\"sandbox.clientlb.io/delay-ms\":null,\"sandbox.clientlb.io/fail-status\":\"200\"}");
        string log = await LogWhenAsync(cluster, pod.Name, "ignored");
        Assert.Contains("annotation sandbox.clientlb.io/fail-status=\"200\" ignored: it must be a 5xx status code", log);
        using HttpResponseMessage normal = await AnswerWhenAsync(address, _ => true);
        Assert.Equal(HttpStatusCode.OK, normal.StatusCode);
    }
}
