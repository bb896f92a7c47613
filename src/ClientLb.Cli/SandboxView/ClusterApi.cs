using System.Net.Http.Headers;
using System.Text;
using System.Text.Json;
using System.Text.Json.Nodes;
using ClientLb.Sandbox;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Hosting;

namespace ClientLb.Cli.SandboxView;

/// <summary>
/// The cluster side of the sandbox view: its state as JSON (pushed as Server-Sent Events on every change of the cluster)
/// and the actions, sent to the sandbox's API server over HTTP as kubectl sends them, whose errors are the API's own.
/// </summary>
internal sealed class ClusterApi(SandboxCluster cluster, TrafficGenerator traffic, ClusterDns? dns, AgentRules agent)
{
    private readonly HttpClient _api = cluster.CreateHttpClient();

    public async Task StateAsync(HttpContext context) => await WriteAsync(context, 200, await StateJsonAsync());

    public async Task EventsAsync(HttpContext context)
    {
        context.Response.ContentType = "text/event-stream";
        context.Response.Headers.CacheControl = "no-cache";
        context.Features.Get<IHttpResponseBodyFeature>()?.DisableBuffering();
        // Ends with the browser, or when the app stops (so shutdown does not wait for open streams).
        CancellationToken stopping = context.RequestServices.GetRequiredService<IHostApplicationLifetime>().ApplicationStopping;
        using var ended = CancellationTokenSource.CreateLinkedTokenSource(context.RequestAborted, stopping);
        CancellationToken aborted = ended.Token;
        string? sent = null;
        try
        {
            while (!aborted.IsCancellationRequested)
            {
                long seen = cluster.ResourceVersion;
                string state = (await StateJsonAsync()).ToJsonString();
                if (state != sent)
                {
                    sent = state;
                    await context.Response.WriteAsync("event: cluster\ndata: " + state + "\n\n", aborted);
                    await context.Response.Body.FlushAsync(aborted);
                }
                // Woken by any change of the cluster; once a second regardless, for the traffic generator's counts.
                using var tick = CancellationTokenSource.CreateLinkedTokenSource(aborted);
                tick.CancelAfter(TimeSpan.FromSeconds(1));
                try
                {
                    await cluster.WaitUntilAsync(c => c.ResourceVersion != seen, tick.Token);
                }
                catch (OperationCanceledException) when (!aborted.IsCancellationRequested)
                {
                }
            }
        }
        catch (OperationCanceledException) when (aborted.IsCancellationRequested)
        {
        }
    }

    public async Task ScaleAsync(HttpContext context)
    {
        if (await ReadAsync(context, "namespace", "name", "replicas") is not { } body)
        {
            return;
        }
        if (body["replicas"] is not JsonValue value || !value.TryGetValue(out int replicas))
        {
            await ErrorAsync(context, 400, $"replicas must be an integer (was {body["replicas"]?.ToJsonString() ?? "null"})");
            return;
        }
        string path = $"apis/apps/v1/namespaces/{Uri.EscapeDataString(Text(body, "namespace"))}/deployments/{Uri.EscapeDataString(Text(body, "name"))}/scale";
        using var request = new HttpRequestMessage(HttpMethod.Patch, path)
        {
            Content = new StringContent($"{{\"spec\":{{\"replicas\":{replicas}}}}}", Encoding.UTF8, new MediaTypeHeaderValue("application/merge-patch+json")),
        };
        await RelayAsync(context, request);
    }

    public async Task DeletePodAsync(HttpContext context)
    {
        if (await ReadAsync(context, "namespace", "name") is not { } body)
        {
            return;
        }
        using var request = new HttpRequestMessage(HttpMethod.Delete,
            $"api/v1/namespaces/{Uri.EscapeDataString(Text(body, "namespace"))}/pods/{Uri.EscapeDataString(Text(body, "name"))}");
        await RelayAsync(context, request);
    }

    /// <summary>
    /// Sets a pod's readiness through its <c>sandbox.clientlb.io/ready</c> annotation (what <c>kubectl annotate pod X
    /// sandbox.clientlb.io/ready=false --overwrite</c> does): its endpoint turns not ready and ClientLb stops picking it.
    /// </summary>
    public async Task PodReadyAsync(HttpContext context)
    {
        if (await ReadAsync(context, "namespace", "name", "ready") is not { } body)
        {
            return;
        }
        if (body["ready"] is not JsonValue value || !value.TryGetValue(out bool ready))
        {
            await ErrorAsync(context, 400, $"ready must be true or false (was {body["ready"]?.ToJsonString() ?? "null"})");
            return;
        }
        using var request = new HttpRequestMessage(HttpMethod.Patch,
            $"api/v1/namespaces/{Uri.EscapeDataString(Text(body, "namespace"))}/pods/{Uri.EscapeDataString(Text(body, "name"))}")
        {
            Content = new StringContent($"{{\"metadata\":{{\"annotations\":{{\"sandbox.clientlb.io/ready\":\"{(ready ? "true" : "false")}\"}}}}}}", Encoding.UTF8,
                new MediaTypeHeaderValue("application/merge-patch+json")),
        };
        await RelayAsync(context, request);
    }

    /// <summary>
    /// Makes a pod's HTTP answers fail (<c>failStatus</c> 500-599, 0 for none) or slow (<c>delayMs</c> 0-60000) through its
    /// <c>sandbox.clientlb.io/fail-status</c> and <c>sandbox.clientlb.io/delay-ms</c> annotations.
    /// </summary>
    public async Task PodFaultAsync(HttpContext context)
    {
        if (await ReadAsync(context, "namespace", "name", "failStatus", "delayMs") is not { } body)
        {
            return;
        }
        if (body["failStatus"] is not JsonValue failValue || !failValue.TryGetValue(out int failStatus) || (failStatus != 0 && failStatus is < 500 or > 599))
        {
            await ErrorAsync(context, 400, $"failStatus must be 0 (no failure) or a 5xx status code (was {body["failStatus"]?.ToJsonString()})");
            return;
        }
        if (body["delayMs"] is not JsonValue delayValue || !delayValue.TryGetValue(out int delayMs) || delayMs is < 0 or > 60_000)
        {
            await ErrorAsync(context, 400, $"delayMs must be milliseconds from 0 to 60000 (was {body["delayMs"]?.ToJsonString()})");
            return;
        }
        var annotations = new JsonObject
        {
            ["sandbox.clientlb.io/fail-status"] = failStatus == 0 ? null : failStatus.ToString(System.Globalization.CultureInfo.InvariantCulture),
            ["sandbox.clientlb.io/delay-ms"] = delayMs == 0 ? null : delayMs.ToString(System.Globalization.CultureInfo.InvariantCulture),
        };
        using var request = new HttpRequestMessage(HttpMethod.Patch,
            $"api/v1/namespaces/{Uri.EscapeDataString(Text(body, "namespace"))}/pods/{Uri.EscapeDataString(Text(body, "name"))}")
        {
            Content = new StringContent(new JsonObject { ["metadata"] = new JsonObject { ["annotations"] = annotations } }.ToJsonString(), Encoding.UTF8,
                new MediaTypeHeaderValue("application/merge-patch+json")),
        };
        await RelayAsync(context, request);
    }

    public async Task TrafficAsync(HttpContext context)
    {
        if (await ReadAsync(context, "service", "rate") is not { } body)
        {
            return;
        }
        if (body["rate"] is not JsonValue value || !value.TryGetValue(out int rate))
        {
            await ErrorAsync(context, 400, $"rate must be an integer (was {body["rate"]?.ToJsonString() ?? "null"})");
            return;
        }
        try
        {
            await traffic.SetAsync(body["service"]?.GetValue<string>(), rate);
        }
        catch (ArgumentException ex)
        {
            await ErrorAsync(context, 400, ex.Message[..(ex.Message.IndexOf(" (Parameter", StringComparison.Ordinal) is int i and >= 0 ? i : ex.Message.Length)]);
            return;
        }
        await WriteAsync(context, 200, new JsonObject { ["ok"] = true });
    }

    // Sends the action to the API server and answers with its outcome: the API's Status message on failure.
    private async Task RelayAsync(HttpContext context, HttpRequestMessage request)
    {
        using HttpResponseMessage response = await _api.SendAsync(request, context.RequestAborted);
        if (response.IsSuccessStatusCode)
        {
            await WriteAsync(context, 200, new JsonObject { ["ok"] = true });
            return;
        }
        string text = await response.Content.ReadAsStringAsync(context.RequestAborted);
        string message;
        try
        {
            message = JsonNode.Parse(text)?["message"]?.GetValue<string>() ?? text;
        }
        catch (JsonException)
        {
            message = text;
        }
        await ErrorAsync(context, (int)response.StatusCode, message);
    }

    private static string Text(JsonObject body, string field) => body[field]!.GetValue<string>();

    // The body as a JSON object with the named fields present (strings except numbers checked by the caller); else a
    // 400 naming what is wrong, and null.
    private static async Task<JsonObject?> ReadAsync(HttpContext context, params string[] fields)
    {
        JsonObject? body;
        try
        {
            body = await JsonNode.ParseAsync(context.Request.Body, cancellationToken: context.RequestAborted) as JsonObject;
        }
        catch (JsonException ex)
        {
            await ErrorAsync(context, 400, "the request body is not JSON: " + ex.Message);
            return null;
        }
        if (body is null)
        {
            await ErrorAsync(context, 400, "the request body must be a JSON object");
            return null;
        }
        foreach (string field in fields)
        {
            if (body[field] is null)
            {
                await ErrorAsync(context, 400, $"the request body has no '{field}'");
                return null;
            }
            if (field is not ("replicas" or "rate" or "ready" or "failStatus" or "delayMs") && (body[field] is not JsonValue v || !v.TryGetValue(out string? s) || string.IsNullOrWhiteSpace(s)))
            {
                await ErrorAsync(context, 400, $"'{field}' must be a non-empty string");
                return null;
            }
        }
        return body;
    }

    private static Task ErrorAsync(HttpContext context, int status, string message) => WriteAsync(context, status, new JsonObject { ["error"] = message });

    private static async Task WriteAsync(HttpContext context, int status, JsonNode body)
    {
        context.Response.StatusCode = status;
        context.Response.ContentType = "application/json; charset=utf-8";
        await context.Response.WriteAsync(body.ToJsonString(), context.RequestAborted);
    }

    // Services (ClusterIP, ports) -> their EndpointSlices -> pods; Deployments; the agent's rules; the traffic generator.
    private async Task<JsonObject> StateJsonAsync()
    {
        long version = cluster.ResourceVersion;
        IReadOnlyList<JsonObject> services = await cluster.ListAsync("v1", "Service", ns: null);
        IReadOnlyList<JsonObject> slices = await cluster.ListAsync("discovery.k8s.io/v1", "EndpointSlice", ns: null);
        IReadOnlyList<JsonObject> deployments = await cluster.ListAsync("apps/v1", "Deployment", ns: null);
        var serviceArray = new JsonArray();
        foreach (JsonObject service in services)
        {
            string ns = Str(service, "metadata", "namespace"), name = Str(service, "metadata", "name");
            var sliceArray = new JsonArray();
            foreach (JsonObject slice in slices.Where(s => Str(s, "metadata", "namespace") == ns && s["metadata"]?["labels"]?["kubernetes.io/service-name"]?.GetValue<string>() == name))
            {
                var endpoints = new JsonArray();
                foreach (JsonNode? e in slice["endpoints"]?.AsArray() ?? [])
                {
                    endpoints.Add((JsonNode)new JsonObject
                    {
                        ["addresses"] = e?["addresses"]?.DeepClone(),
                        ["ready"] = e?["conditions"]?["ready"]?.DeepClone(),
                        ["serving"] = e?["conditions"]?["serving"]?.DeepClone(),
                        ["terminating"] = e?["conditions"]?["terminating"]?.DeepClone(),
                        ["node"] = e?["nodeName"]?.DeepClone(),
                        ["zone"] = e?["zone"]?.DeepClone(),
                        ["pod"] = e?["targetRef"]?["name"]?.DeepClone(),
                    });
                }
                sliceArray.Add((JsonNode)new JsonObject { ["name"] = Str(slice, "metadata", "name"), ["ports"] = slice["ports"]?.DeepClone(), ["endpoints"] = endpoints });
            }
            IEnumerable<string> namedTcpPorts = (service["spec"]?["ports"]?.AsArray() ?? []).Where(p => (p?["protocol"]?.GetValue<string>() ?? "TCP") == "TCP")
                .Select(p => p?["name"]?.GetValue<string>()).OfType<string>();
            serviceArray.Add((JsonNode)new JsonObject
            {
                ["dns"] = dns is null ? new JsonArray((JsonNode)"the cluster DNS is off") : await dns.RecordsAsync(name, ns, namedTcpPorts, version),
                ["namespace"] = ns,
                ["name"] = name,
                ["type"] = service["spec"]?["type"]?.DeepClone() ?? "ClusterIP",
                ["clusterIP"] = service["spec"]?["clusterIP"]?.DeepClone(),
                ["ports"] = service["spec"]?["ports"]?.DeepClone(),
                ["slices"] = sliceArray,
            });
        }
        var deploymentArray = new JsonArray();
        foreach (JsonObject deployment in deployments)
        {
            deploymentArray.Add((JsonNode)new JsonObject
            {
                ["namespace"] = Str(deployment, "metadata", "namespace"),
                ["name"] = Str(deployment, "metadata", "name"),
                ["replicas"] = deployment["spec"]?["replicas"]?.DeepClone(),
                ["readyReplicas"] = deployment["status"]?["readyReplicas"]?.DeepClone() ?? 0,
            });
        }
        var annotations = (await cluster.ListAsync("v1", "Pod", ns: null)).ToDictionary(
            p => Str(p, "metadata", "namespace") + "/" + Str(p, "metadata", "name"), p => p["metadata"]?["annotations"], StringComparer.Ordinal);
        var pods = new JsonArray();
        IReadOnlyList<SandboxPod> sandboxPods = cluster.GetPods(null, null);
        foreach (SandboxPod pod in sandboxPods)
        {
            JsonNode? podAnnotations = annotations.GetValueOrDefault(pod.Namespace + "/" + pod.Name);
            pods.Add((JsonNode)new JsonObject
            {
                ["namespace"] = pod.Namespace, ["name"] = pod.Name, ["ip"] = pod.IP, ["node"] = pod.NodeName, ["ready"] = pod.Ready, ["terminating"] = pod.Terminating,
                ["failStatus"] = podAnnotations?["sandbox.clientlb.io/fail-status"]?.DeepClone(),
                ["delayMs"] = podAnnotations?["sandbox.clientlb.io/delay-ms"]?.DeepClone(),
            });
        }
        (string? target, int rate, long sent, long failed, string? lastError) = traffic.Status;
        return new JsonObject
        {
            ["services"] = serviceArray,
            ["deployments"] = deploymentArray,
            ["pods"] = pods,
            ["agent"] = await agent.StateAsync(services, slices, sandboxPods),
            ["traffic"] = new JsonObject { ["service"] = target, ["rate"] = rate, ["sent"] = sent, ["failed"] = failed, ["lastError"] = lastError },
        };
    }

    private static string Str(JsonObject obj, string a, string b) => obj[a]?[b]?.GetValue<string>() ?? "";
}
