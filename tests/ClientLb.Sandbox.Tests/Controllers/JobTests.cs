using System.Text.Json.Nodes;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.Controllers;

/// <summary>
/// batch/v1 Jobs with the real kubectl: <c>kubectl create job</c> (protobuf), the Job controller running the pod
/// template's image as the in-process program registered for it, status and conditions, <c>kubectl get jobs</c>,
/// <c>kubectl wait --for=condition=complete</c>, <c>kubectl logs job/x</c>; an image without a program fails the Job
/// naming the image, and a failing program exhausts backoffLimit.
/// </summary>
public class JobTests
{
    private static readonly HashSet<string> SecondTime = [];

    private static SandboxOptions Options() => new()
    {
        EnableDns = false,
        EnableServiceProxy = false,
        JobBackoff = TimeSpan.FromMilliseconds(20),
        Images =
        {
            ["example.com/hello"] = async (c, ct) =>
            {
                await c.Output.WriteLineAsync($"hello from {c.PodName} ({c.Namespace}/{c.Name}) command={string.Join(",", c.Command)} greeting={c.Environment.GetValueOrDefault("GREETING")}");
                return 0;
            },
            // Fails the first run of each pod, succeeds when restarted (OnFailure restarts in place).
            ["example.com/second-time"] = async (c, ct) =>
            {
                bool first;
                lock (SecondTime) { first = SecondTime.Add(c.PodName); } await c.Output.WriteLineAsync(first ? "first run: failing" : "restarted: done");
                return first ? 1 : 0;
            },
            ["example.com/forever"] = async (c, ct) =>
            {
                await c.Output.WriteLineAsync("waiting to be stopped");
                await Task.Delay(Timeout.Infinite, ct);
                return 0;
            },
            ["example.com/fail:1"] = async (c, ct) =>
            {
                await c.Output.WriteLineAsync($"{c.PodName} is failing on purpose");
                return 3;
            },
        },
    };

    [Fact]
    public async Task A_job_runs_its_image_completes_and_kubectl_gets_waits_and_reads_its_logs()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(Options());
        using var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);
        Assert.Contains("job.batch/hello created", await kubectl.OkAsync("create", "job", "hello", "--image=example.com/hello:2.0", "--", "one", "two"));
        Assert.Contains("job.batch/hello condition met", await kubectl.OkAsync("wait", "--for=condition=complete", "job/hello", "--timeout=30s"));
        Assert.Matches(@"NAME\s+STATUS\s+COMPLETIONS\s+DURATION\s+AGE\s*\nhello\s+Complete\s+1/1\s+\d+s\s+\d+s", await kubectl.OkAsync("get", "jobs"));
        Assert.Matches(@"hello from hello-\w{5} \(default/hello\) command=one,two greeting=", await kubectl.OkAsync("logs", "job/hello"));

        JsonObject? job = await cluster.GetAsync("batch/v1", "Job", "hello");
        Assert.Equal(1, job.L("status", "succeeded"));
        Assert.Null(job.L("status", "active"));
        Assert.NotNull(job.S("status", "completionTime"));
        Assert.Equal("hello", job.S("spec", "template", "metadata", "labels", "batch.kubernetes.io/job-name"));
        JsonObject pod = Assert.Single(await cluster.ListAsync("v1", "Pod", labelSelector: "job-name=hello"));
        Assert.Equal("Succeeded", pod.S("status", "phase"));
        Assert.Equal(0, pod.L("status", "containerStatuses", "0", "state", "terminated", "exitCode"));
        Assert.Contains("SuccessfulCreate", await kubectl.OkAsync("get", "events", "--field-selector", "involvedObject.name=hello"));
        string describe = await kubectl.OkAsync("describe", "job", "hello");
        Assert.Matches(@"Pods Statuses:\s+0 Active \(0 Ready\) / 1 Succeeded / 0 Failed", describe);
        Assert.Matches(@"Normal\s+SuccessfulCreate\s+\S+\s+job-controller\s+Created pod: hello-\w{5}", describe);

        // An env value from a ConfigMap, from a manifest with OnFailure and two completions.
        await cluster.ApplyManifestAsync("""
            apiVersion: v1
            kind: ConfigMap
            metadata: {name: greetings}
            data: {greeting: bonjour}
            ---
            apiVersion: batch/v1
            kind: Job
            metadata: {name: twice}
            spec:
              completions: 2
              template:
                spec:
                  restartPolicy: OnFailure
                  containers:
                  - name: say
                    image: example.com/hello
                    env: [{name: GREETING, valueFrom: {configMapKeyRef: {name: greetings, key: greeting}}}]
            """);
        Assert.Contains("condition met", await kubectl.OkAsync("wait", "--for=condition=complete", "job/twice", "--timeout=30s"));
        Assert.Matches(@"twice\s+Complete\s+2/2", await kubectl.OkAsync("get", "job", "twice"));
        Assert.Contains("greeting=bonjour", await kubectl.OkAsync("logs", "-l", "job-name=twice"));
        Assert.Empty(cluster.ControllerErrors);
    }

    [Fact]
    public async Task A_job_whose_image_has_no_program_fails_at_once_naming_the_image()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(Options());
        using var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);
        await kubectl.OkAsync("create", "job", "curl", "--image=curlimages/curl:8.5.0", "--", "curl", "http://my-service");
        Assert.Contains("job.batch/curl condition met", await kubectl.OkAsync("wait", "--for=condition=failed", "job/curl", "--timeout=30s"));
        JsonObject? job = await cluster.GetAsync("batch/v1", "Job", "curl");
        JsonNode? failed = job.Arr("status", "conditions").Single(c => c.S("type") == "Failed");
        Assert.Equal("ImageNotRunnable", failed.S("reason"));
        Assert.Contains("the sandbox cannot run image \"curlimages/curl:8.5.0\" of container \"curl\"", failed.S("message"));
        Assert.DoesNotContain(job.Arr("status", "conditions"), c => c.S("type") == "Complete");
        Assert.Matches(@"curl\s+Failed\s+0/1", await kubectl.OkAsync("get", "jobs"));
        Assert.Contains("curlimages/curl:8.5.0", await kubectl.OkAsync("get", "events", "--field-selector", "reason=ImageNotRunnable"));
        Assert.Contains("the sandbox cannot run image", await kubectl.OkAsync("logs", "job/curl"));
    }

    [Fact]
    public async Task A_failing_program_is_retried_until_the_backoff_limit_then_the_job_fails()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(Options());
        using var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);
        await cluster.ApplyManifestAsync("""
            apiVersion: batch/v1
            kind: Job
            metadata: {name: flaky}
            spec:
              backoffLimit: 1
              template:
                spec:
                  restartPolicy: Never
                  containers: [{name: work, image: "example.com/fail:1"}]
            """);
        Assert.Contains("condition met", await kubectl.OkAsync("wait", "--for=condition=failed", "job/flaky", "--timeout=30s"));
        JsonObject? job = await cluster.GetAsync("batch/v1", "Job", "flaky");
        Assert.Equal(2, job.L("status", "failed"));
        Assert.Equal("BackoffLimitExceeded", job.Arr("status", "conditions").Single(c => c.S("type") == "Failed").S("reason"));
        IReadOnlyList<JsonObject> pods = await cluster.ListAsync("v1", "Pod", labelSelector: "job-name=flaky");
        Assert.Equal(2, pods.Count);
        Assert.All(pods, p => Assert.Equal(3, p.L("status", "containerStatuses", "0", "state", "terminated", "exitCode")));
    }

    [Fact]
    public async Task An_on_failure_container_restarts_in_place_and_counts_toward_the_backoff_limit()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(Options());
        using var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);
        await cluster.ApplyManifestAsync("""
            apiVersion: batch/v1
            kind: Job
            metadata: {name: retry}
            spec:
              backoffLimit: 1
              template:
                spec:
                  restartPolicy: OnFailure
                  containers: [{name: work, image: example.com/second-time}]
            """);
        Assert.Contains("condition met", await kubectl.OkAsync("wait", "--for=condition=complete", "job/retry", "--timeout=30s"));
        JsonObject pod = Assert.Single(await cluster.ListAsync("v1", "Pod", labelSelector: "job-name=retry"));
        Assert.Equal(1, pod.L("status", "containerStatuses", "0", "restartCount"));
        Assert.Equal("Succeeded", pod.S("status", "phase"));
        JsonObject? job = await cluster.GetAsync("batch/v1", "Job", "retry");
        Assert.Null(job.L("status", "failed")); // a restart is not a failed pod
        Assert.Equal("first run: failing\nrestarted: done", (await kubectl.OkAsync("logs", "job/retry")).Trim());
    }

    [Fact]
    public async Task A_job_past_its_active_deadline_fails_and_its_running_pod_is_stopped()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(Options());
        using var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);
        await cluster.ApplyManifestAsync("""
            apiVersion: batch/v1
            kind: Job
            metadata: {name: slow}
            spec:
              activeDeadlineSeconds: 1
              template:
                spec:
                  restartPolicy: Never
                  containers: [{name: work, image: example.com/forever}]
            """);
        Assert.Contains("condition met", await kubectl.OkAsync("wait", "--for=condition=failed", "job/slow", "--timeout=30s"));
        JsonObject? job = await cluster.GetAsync("batch/v1", "Job", "slow");
        Assert.Equal("DeadlineExceeded", job.Arr("status", "conditions").Single(c => c.S("type") == "Failed").S("reason"));
        await cluster.WaitUntilAsync(c => c.GetPods("job-name=slow").Count == 0, Deadline.In());
        Assert.Matches(@"slow\s+Failed\s+0/1", await kubectl.OkAsync("get", "jobs"));
    }

    [Fact]
    public async Task A_job_that_the_controller_cannot_run_faithfully_is_refused_naming_the_field()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(Options());
        using var kubectl = new Infrastructure.Kubectl(cluster.KubeconfigPath);
        (int exit, string _, string? stderr) = await kubectl.RunAsync(["apply", "-f", "-"], """
            apiVersion: batch/v1
            kind: Job
            metadata: {name: always}
            spec:
              template:
                spec:
                  restartPolicy: Always
                  containers: [{name: work, image: example.com/hello}]
            """);
        Assert.NotEqual(0, exit);
        Assert.Contains("spec.template.spec.restartPolicy: Unsupported value: \"Always\": supported values: \"OnFailure\", \"Never\"", stderr);
        (exit, _, stderr) = await kubectl.RunAsync(["apply", "-f", "-"], """
            apiVersion: batch/v1
            kind: Job
            metadata: {name: indexed}
            spec:
              completionMode: Indexed
              completions: 2
              template:
                spec:
                  restartPolicy: Never
                  containers: [{name: work, image: example.com/hello}]
            """);
        Assert.NotEqual(0, exit);
        Assert.Contains("spec.completionMode: Unsupported value: \"Indexed\"", stderr);
        Assert.Empty(await cluster.ListAsync("batch/v1", "Job"));
    }
}
