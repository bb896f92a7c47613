using System.Net;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Tests.Infrastructure;

namespace ClientLb.Sandbox.Tests.Api;

public class ApiSemanticsTests
{
    private const string Svcs = "/api/v1/namespaces/default/services";

    [Fact]
    public async Task Discovery_documents_describe_resources_for_kubectl()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var api = new ApiClient(cluster.CreateHttpClient());
        Assert.Equal(IPAddress.Loopback.ToString(), cluster.ApiServerUri.Host);
        Assert.NotEqual(0, cluster.ApiServerUri.Port);
        Assert.Equal("32", (await api.GetAsync("/version")).Body.S("minor"));
        Assert.Equal("v1", (await api.GetAsync("/api")).Body.S("versions", "0"));
        var groups = (await api.GetAsync("/apis")).Body.Arr("groups").Select(g => g.S("name")).ToList();
        Assert.Contains("apps", groups);
        Assert.Contains("discovery.k8s.io", groups);

        JsonObject apps = (await api.GetAsync("/apis/apps/v1")).Body;
        Assert.Equal("APIResourceList", apps.S("kind"));
        JsonNode? deployments = apps.Arr("resources").Single(r => r.S("name") == "deployments");
        Assert.Equal("deploy", deployments.S("shortNames", "0"));
        Assert.Equal("deployment", deployments.S("singularName"));
        Assert.Contains("watch", deployments.Arr("verbs").Select(v => v!.GetValue<string>()));
        JsonNode? scale = apps.Arr("resources").Single(r => r.S("name") == "deployments/scale");
        Assert.Equal(("autoscaling", "v1", "Scale"), (scale.S("group"), scale.S("version"), scale.S("kind")));
        JsonArray core = (await api.GetAsync("/api/v1")).Body.Arr("resources");
        Assert.Equal("svc", core.Single(r => r.S("name") == "services").S("shortNames", "0"));
        Assert.False(core.Single(r => r.S("name") == "namespaces").At("namespaced")!.GetValue<bool>());
        (HttpStatusCode Code, JsonObject Body) missing = await api.GetAsync("/apis/policy/v1");
        Assert.Equal(HttpStatusCode.NotFound, missing.Code);
        Assert.Equal("Status", missing.Body.S("kind"));
    }

    [Fact]
    public async Task Services_get_loopback_cluster_ips_and_errors_are_status_objects()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var api = new ApiClient(cluster.CreateHttpClient());
        (HttpStatusCode code, JsonObject? svc) = await api.PostAsync(Svcs, ApiClient.Service("web", selector: new JsonObject { ["app"] = "web" }));
        Assert.Equal(HttpStatusCode.Created, code);
        Assert.StartsWith("127.96.", svc.S("spec", "clusterIP"));
        Assert.Equal(80, svc.L("spec", "ports", "0", "targetPort"));
        Assert.Equal("TCP", svc.S("spec", "ports", "0", "protocol"));
        Assert.False(string.IsNullOrEmpty(svc.S("metadata", "uid")));

        JsonObject headless = (await api.PostAsync(Svcs, ApiClient.Service("db", clusterIP: "None"))).Body;
        Assert.Equal("None", headless.S("spec", "clusterIP"));

        (HttpStatusCode Code, JsonObject Body) dup = await api.PostAsync(Svcs, ApiClient.Service("web"));
        Assert.Equal(HttpStatusCode.Conflict, dup.Code);
        Assert.Equal(("Status", "v1", "AlreadyExists", 409L), (dup.Body.S("kind"), dup.Body.S("apiVersion"), dup.Body.S("reason"), dup.Body.L("code")));
        Assert.Equal("web", dup.Body.S("details", "name"));

        (HttpStatusCode Code, JsonObject Body) invalid = await api.PostAsync(Svcs, ApiClient.Service("Bad_Name", port: 70000));
        Assert.Equal((HttpStatusCode)422, invalid.Code);
        Assert.Equal("Invalid", invalid.Body.S("reason"));
        var fields = invalid.Body.Arr("details", "causes").Select(c => c.S("field")).ToList();
        Assert.Contains("metadata.name", fields);
        Assert.Contains("spec.ports[0].port", fields);

        (HttpStatusCode Code, JsonObject Body) outside = await api.PostAsync(Svcs, ApiClient.Service("pinned", clusterIP: "10.0.0.5"));
        Assert.Equal((HttpStatusCode)422, outside.Code);
        Assert.Contains("127.96.0.0/16", outside.Body.S("message"));

        (HttpStatusCode Code, JsonObject Body) missing = await api.GetAsync($"{Svcs}/nope");
        Assert.Equal(HttpStatusCode.NotFound, missing.Code);
        Assert.Equal(("NotFound", "nope", "services"), (missing.Body.S("reason"), missing.Body.S("details", "name"), missing.Body.S("details", "kind")));

        (HttpStatusCode Code, JsonObject Body) noNs = await api.PostAsync("/api/v1/namespaces/ghost/services", ApiClient.Service("x"));
        Assert.Equal(HttpStatusCode.NotFound, noNs.Code);
        Assert.Contains("namespaces \"ghost\" not found", noNs.Body.S("message"));

        (HttpStatusCode Code, JsonObject Body) badJson = await api.SendAsync(HttpMethod.Post, Svcs, JsonValue.Create("not an object"));
        Assert.Equal(HttpStatusCode.BadRequest, badJson.Code);
        Assert.Equal("BadRequest", badJson.Body.S("reason"));
    }

    [Fact]
    public async Task Updates_use_optimistic_concurrency_and_keep_immutable_fields()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var api = new ApiClient(cluster.CreateHttpClient());
        JsonObject svc = (await api.PostAsync(Svcs, ApiClient.Service("web"))).Body;
        long rv = long.Parse(svc.S("metadata", "resourceVersion")!);

        JsonObject changed = svc.DeepClone().AsObject();
        changed["metadata"]!["labels"] = new JsonObject { ["team"] = "a" };
        (HttpStatusCode code, JsonObject? updated) = await api.PutAsync($"{Svcs}/web", changed);
        Assert.Equal(HttpStatusCode.OK, code);
        Assert.True(long.Parse(updated.S("metadata", "resourceVersion")!) > rv);
        Assert.Equal(svc.S("spec", "clusterIP"), updated.S("spec", "clusterIP"));

        (HttpStatusCode Code, JsonObject Body) stale = await api.PutAsync($"{Svcs}/web", changed); // still carries the old resourceVersion
        Assert.Equal(HttpStatusCode.Conflict, stale.Code);
        Assert.Equal("Conflict", stale.Body.S("reason"));
        Assert.Contains("the object has been modified", stale.Body.S("message"));

        JsonObject moved = updated.DeepClone().AsObject();
        moved["spec"]!["clusterIP"] = "127.96.9.9";
        (HttpStatusCode Code, JsonObject Body) immutable = await api.PutAsync($"{Svcs}/web", moved);
        Assert.Equal((HttpStatusCode)422, immutable.Code);
        Assert.Contains("field is immutable", immutable.Body.S("message"));

        (HttpStatusCode Code, JsonObject Body) wrongName = await api.PutAsync($"{Svcs}/other", updated);
        Assert.Equal(HttpStatusCode.BadRequest, wrongName.Code);

        (HttpStatusCode Code, JsonObject Body) patched = await api.PatchAsync($"{Svcs}/web", new JsonObject { ["metadata"] = new JsonObject { ["labels"] = new JsonObject { ["team"] = null, ["tier"] = "web" } } });
        Assert.Equal(HttpStatusCode.OK, patched.Code);
        Assert.Null(patched.Body.S("metadata", "labels", "team"));
        Assert.Equal("web", patched.Body.S("metadata", "labels", "tier"));

        (HttpStatusCode Code, JsonObject Body) jsonPatch = await api.PatchAsync($"{Svcs}/web", JsonNode.Parse("""[{"op":"replace","path":"/spec/ports/0/port","value":8080}]""")!, "application/json-patch+json");
        Assert.Equal(8080, jsonPatch.Body.L("spec", "ports", "0", "port"));

        (HttpStatusCode Code, JsonObject Body) unsupported = await api.PatchAsync($"{Svcs}/web", new JsonObject(), "application/apply-patch+yaml");
        Assert.Equal(HttpStatusCode.UnsupportedMediaType, unsupported.Code);

        (HttpStatusCode Code, JsonObject Body) deleted = await api.DeleteAsync($"{Svcs}/web");
        Assert.Equal(HttpStatusCode.OK, deleted.Code);
        Assert.Equal(HttpStatusCode.NotFound, (await api.GetAsync($"{Svcs}/web")).Code);
        // The released cluster IP can be requested explicitly again.
        Assert.Equal(HttpStatusCode.Created, (await api.PostAsync(Svcs, ApiClient.Service("again", clusterIP: svc.S("spec", "clusterIP")))).Code);
    }

    [Fact]
    public async Task Lists_filter_by_label_and_field_selectors_and_page_with_continue()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var api = new ApiClient(cluster.CreateHttpClient());
        foreach ((string? name, string? tier) in new[] { ("a", "front"), ("b", "back"), ("c", "front"), ("d", "") })
        {
            var labels = new JsonObject { ["app"] = "shop" };
            if (tier.Length > 0)
            {
                labels["tier"] = tier;
            }

            Assert.Equal(HttpStatusCode.Created, (await api.PostAsync(Svcs, ApiClient.Service(name, labels: labels))).Code);
        }
        async Task<List<string?>> Names(string query)
        {
            (HttpStatusCode code, JsonObject? list) = await api.GetAsync($"{Svcs}?{query}");
            Assert.Equal(HttpStatusCode.OK, code);
            Assert.Equal("ServiceList", list.S("kind"));
            Assert.Equal(cluster.ResourceVersion.ToString(), list.S("metadata", "resourceVersion"));
            return list.Arr("items").Select(i => i.S("metadata", "name")).ToList();
        }
        Assert.Equal(["a", "c"], await Names("labelSelector=tier%3Dfront"));
        Assert.Equal(["b", "d"], await Names("labelSelector=tier!%3Dfront"));
        Assert.Equal(["a", "b", "c"], await Names("labelSelector=tier"));
        Assert.Equal(["d"], await Names("labelSelector=!tier"));
        Assert.Equal(["a", "b"], await Names("labelSelector=" + Uri.EscapeDataString("tier in (front,back),app=shop,tier notin (x)") + "&fieldSelector=metadata.name!%3Dc"));
        Assert.Equal(["b"], await Names("fieldSelector=metadata.name%3Db"));
        Assert.Equal(HttpStatusCode.BadRequest, (await api.GetAsync($"{Svcs}?fieldSelector=spec.ports%3D1")).Code);

        JsonObject page1 = (await api.GetAsync($"{Svcs}?limit=3")).Body;
        Assert.Equal(3, page1.Arr("items").Count);
        Assert.Equal(1, page1.L("metadata", "remainingItemCount"));
        string token = page1.S("metadata", "continue")!;
        JsonObject page2 = (await api.GetAsync($"{Svcs}?limit=3&continue={Uri.EscapeDataString(token)}")).Body;
        Assert.Equal(["d"], page2.Arr("items").Select(i => i.S("metadata", "name")));
        Assert.Null(page2.S("metadata", "continue"));
        Assert.Equal(HttpStatusCode.BadRequest, (await api.GetAsync($"{Svcs}?continue=garbage!")).Code);

        // Across namespaces, and the table form kubectl asks for.
        JsonArray all = (await api.GetAsync("/api/v1/services")).Body.Arr("items");
        Assert.Equal(["default/a", "default/b", "default/c", "default/d", "kube-system/kube-dns"], all.Select(i => $"{i.S("metadata", "namespace")}/{i.S("metadata", "name")}"));
        JsonObject table = (await api.GetAsync(Svcs, "application/json;as=Table;v=v1;g=meta.k8s.io,application/json")).Body;
        Assert.Equal("Table", table.S("kind"));
        Assert.Contains("Cluster-IP", table.Arr("columnDefinitions").Select(c => c.S("name")));
        Assert.Equal("a", table.S("rows", "0", "cells", "0"));
        Assert.Equal("PartialObjectMetadata", table.S("rows", "0", "object", "kind"));
        (HttpStatusCode Code, JsonObject Body) notAcceptable = await api.GetAsync(Svcs, "text/html"); // protobuf is served now (see Protobuf/)
        Assert.Equal(HttpStatusCode.NotAcceptable, notAcceptable.Code);
    }

    [Fact]
    public async Task Status_subresource_and_main_resource_change_separate_parts()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var api = new ApiClient(cluster.CreateHttpClient());
        await cluster.CreateDeploymentAsync("app", 0);
        string path = "/apis/apps/v1/namespaces/default/deployments/app";
        JsonObject d = (await api.GetAsync(path)).Body;
        d["status"] = new JsonObject { ["replicas"] = 42 };
        d["metadata"]!.AsObject().Remove("resourceVersion");
        JsonObject viaMain = (await api.PutAsync(path, d)).Body;
        Assert.NotEqual(42, viaMain.L("status", "replicas"));
        (HttpStatusCode Code, JsonObject Body) viaStatus = await api.PatchAsync(path + "/status", new JsonObject { ["status"] = new JsonObject { ["replicas"] = 42 }, ["spec"] = new JsonObject { ["replicas"] = 7 } });
        Assert.Equal(HttpStatusCode.OK, viaStatus.Code);
        Assert.Equal(42, viaStatus.Body.L("status", "replicas"));
        Assert.Equal(0, viaStatus.Body.L("spec", "replicas"));
    }

    [Fact]
    public async Task Https_with_generated_ca_and_bearer_token()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync(new SandboxOptions { UseHttps = true });
        Assert.Equal("https", cluster.ApiServerUri.Scheme);
        Assert.NotNull(cluster.BearerToken);
        string kubeconfig = await File.ReadAllTextAsync(cluster.KubeconfigPath);
        Assert.Contains("certificate-authority-data:", kubeconfig);
        Assert.Contains($"token: \"{cluster.BearerToken}\"", kubeconfig);
        using var api = new ApiClient(cluster.CreateHttpClient());
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/namespaces")).Code);

        using var noToken = new ApiClient(cluster.CreateHttpClient());
        noToken.Http.DefaultRequestHeaders.Authorization = null;
        (HttpStatusCode Code, JsonObject Body) denied = await noToken.GetAsync("/api/v1/namespaces");
        Assert.Equal(HttpStatusCode.Unauthorized, denied.Code);
        Assert.Equal("Unauthorized", denied.Body.S("reason"));

        // A client that does not trust the sandbox CA must fail the TLS handshake.
        using var untrusting = new HttpClient { BaseAddress = cluster.ApiServerUri };
        await Assert.ThrowsAsync<HttpRequestException>(() => untrusting.GetAsync("/version"));
    }

    [Fact]
    public async Task Injected_faults_answer_429_and_500_then_recover()
    {
        await using SandboxCluster cluster = await SandboxCluster.StartAsync();
        using var api = new ApiClient(cluster.CreateHttpClient());
        cluster.FailNextRequests(1, 429);
        (HttpStatusCode Code, JsonObject Body) throttled = await api.GetAsync("/api/v1/namespaces");
        Assert.Equal(HttpStatusCode.TooManyRequests, throttled.Code);
        Assert.Equal("TooManyRequests", throttled.Body.S("reason"));
        cluster.FailNextRequests(2, 500);
        Assert.Equal(HttpStatusCode.InternalServerError, (await api.GetAsync("/api/v1/namespaces")).Code);
        Assert.Equal(HttpStatusCode.InternalServerError, (await api.GetAsync("/api/v1/namespaces")).Code);
        Assert.Equal(HttpStatusCode.OK, (await api.GetAsync("/api/v1/namespaces")).Code);
        Assert.Throws<ArgumentOutOfRangeException>(() => cluster.FailNextRequests(1, 404));
    }
}
