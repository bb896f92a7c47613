using System.Net;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.Controllers;

public class PodServerTests
{
    [Fact]
    public async Task Pods_answer_http1_and_cleartext_http2_prior_knowledge()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        await cluster.ApplyManifestAsync("""
            apiVersion: v1
            kind: Pod
            metadata: {name: h2}
            spec:
              containers:
                - name: app
                  image: sandbox/echo
                  ports: [{name: http, containerPort: 8080}, {name: h2c, containerPort: 8082}]
            """);
        await cluster.WaitUntilAsync(c => c.GetPods().Any(p => p.Ready), Deadline.In());
        SandboxPod pod = cluster.GetPods().Single();
        using var http = new HttpClient();
        using HttpResponseMessage h1 = await http.GetAsync(pod.GetUri(8080));
        Assert.Equal(HttpVersion.Version11, h1.Version);
        Assert.Equal("h2", await h1.Content.ReadAsStringAsync());
        using var req = new HttpRequestMessage(HttpMethod.Get, pod.GetUri(8082)) { Version = HttpVersion.Version20, VersionPolicy = HttpVersionPolicy.RequestVersionExact };
        using HttpResponseMessage h2 = await http.SendAsync(req);
        Assert.Equal(HttpVersion.Version20, h2.Version);
        Assert.Equal(pod.Name, await h2.Content.ReadAsStringAsync());
    }
}
