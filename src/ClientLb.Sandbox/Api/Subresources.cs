using System.Globalization;
using System.Text;
using System.Text.Json.Nodes;
using ClientLb.Sandbox.Logs;
using ClientLb.Sandbox.Store;
using Microsoft.AspNetCore.Http;

namespace ClientLb.Sandbox.Api;

/// <summary>
/// Subresources besides status and scale: pods' <c>log</c> (the kubelet's container log API: follow, tailLines,
/// sinceSeconds, sinceTime, timestamps, limitBytes, container), the refusal of pods' <c>exec</c>/<c>attach</c>, which need a
/// container runtime, and serviceaccounts' <c>token</c> (TokenRequest).
/// </summary>
internal sealed class Subresources(ObjectStore store, PodLogs logs, Security.ServiceAccountTokens tokens)
{
    public static bool Handles(ResourceType t, string? subresource) =>
        (t == ResourceTypes.Pods && subresource is "log" or "exec" or "attach") || (t == ResourceTypes.ServiceAccounts && subresource == "token");

    public async Task HandleAsync(HttpContext ctx, string ns, string name, string subresource)
    {
        if (subresource == "token") { await TokenRequestAsync(ctx, ns, name); return; }
        await PodAsync(ctx, ns, name, subresource);
    }

    /// <summary>POST serviceaccounts/NAME/token: a token for the account, valid for spec.expirationSeconds (default one hour, at least ten minutes).</summary>
    private async Task TokenRequestAsync(HttpContext ctx, string ns, string name)
    {
        if (ctx.Request.Method != "POST")
        {
            throw ApiException.MethodNotAllowed($"the server does not allow this method on the requested resource ({ctx.Request.Method} serviceaccounts/token)");
        }

        StoredObject account = store.GetRequired(ResourceTypes.ServiceAccounts, ns, name);
        JsonObject request = await HttpIo.ReadObjectAsync(ctx, "the TokenRequest object");
        long seconds = Json.AsLong(request.Node("spec", "expirationSeconds")) ?? 3600;
        if (seconds < 600)
        {
            throw new ApiException(422, "Invalid", $"TokenRequest.authentication.k8s.io \"{name}\" is invalid: spec.expirationSeconds: Invalid value: {seconds}: may not specify a duration less than 10 minutes")
            { DetailsName = name, DetailsGroup = "authentication.k8s.io", DetailsKind = "TokenRequest", Causes = [new("FieldValueInvalid", "spec.expirationSeconds", "may not specify a duration less than 10 minutes")] };
        }

        DateTimeOffset expires = store.Time.GetUtcNow().AddSeconds(seconds);
        request["apiVersion"] = "authentication.k8s.io/v1";
        request["kind"] = "TokenRequest";
        JsonObject meta = request.Metadata();
        meta["name"] = name;
        meta["namespace"] = ns;
        meta["creationTimestamp"] = null;
        JsonObject spec = request.Obj("spec");
        spec["expirationSeconds"] = seconds;
        spec["audiences"] ??= new System.Text.Json.Nodes.JsonArray("https://kubernetes.default.svc.cluster.local");
        request["status"] = new System.Text.Json.Nodes.JsonObject { ["token"] = tokens.Issue(ns, name, account.Uid, expires), ["expirationTimestamp"] = Json.Timestamp(expires) };
        await HttpIo.WriteJsonAsync(ctx, 201, request);
    }

    private Task PodAsync(HttpContext ctx, string ns, string name, string subresource)
    {
        StoredObject pod = store.GetRequired(ResourceTypes.Pods, ns, name);
        if (subresource == "log")
        {
            if (ctx.Request.Method != "GET")
            {
                throw ApiException.MethodNotAllowed($"the server does not allow this method on the requested resource ({ctx.Request.Method} pods/log)");
            }

            return LogAsync(ctx, pod);
        }
        // kubectl exec/attach/run -it open a WebSocket (then SPDY) stream; anything but 101 is shown as the Status below.
        throw new ApiException(400, "BadRequest",
            $"pod {ns}/{name}: {subresource} is not supported: the sandbox's pods are loopback servers in the sandbox process, with no container runtime to run a command in or attach to. " +
            $"Reach the pod directly at {pod.Root.Str("status", "podIP") ?? "its pod IP"}, through `kubectl port-forward pod/{name} LOCAL:PORT`, or a Service by its ClusterIP (the sandbox's service proxy)");
    }

    private async Task LogAsync(HttpContext ctx, StoredObject pod)
    {
        IQueryCollection q = ctx.Request.Query;
        var containers = pod.Root.Items("spec", "containers").Select(c => c.Str("name") ?? "").ToList();
        string container = q["container"].ToString();
        if (container.Length == 0)
        {
            if (containers.Count != 1)
            {
                throw ApiException.BadRequest($"a container name must be specified for pod {pod.Name}, choose one of: [{string.Join(" ", containers)}]");
            }

            container = containers[0];
        }
        else if (!containers.Contains(container))
        {
            throw ApiException.BadRequest($"container {container} is not valid for pod {pod.Name}");
        }

        if (HttpIo.Flag(q["previous"]))
        {
            throw ApiException.BadRequest($"previous terminated container \"{container}\" in pod \"{pod.Name}\" not found");
        }

        HttpIo.TryLong(q["tailLines"], "tailLines", out long? tail);
        HttpIo.TryLong(q["sinceSeconds"], "sinceSeconds", out long? sinceSeconds);
        HttpIo.TryLong(q["limitBytes"], "limitBytes", out long? limitBytes);
        if (tail is < 0)
        {
            throw Invalid(pod, "tailLines", tail, "must be greater than or equal to 0");
        }

        if (sinceSeconds is < 1)
        {
            throw Invalid(pod, "sinceSeconds", sinceSeconds, "must be greater than 0");
        }

        if (limitBytes is < 1)
        {
            throw Invalid(pod, "limitBytes", limitBytes, "must be greater than 0");
        }

        DateTimeOffset? since = sinceSeconds is long s ? store.Time.GetUtcNow().AddSeconds(-s) : null;
        if (q["sinceTime"].ToString() is { Length: > 0 } sinceTime)
        {
            if (since is not null)
            {
                throw ApiException.BadRequest("at most one of `sinceTime` or `sinceSeconds` may be specified");
            }

            if (!DateTimeOffset.TryParse(sinceTime, CultureInfo.InvariantCulture, DateTimeStyles.AssumeUniversal, out DateTimeOffset t))
            {
                throw ApiException.BadRequest($"sinceTime \"{sinceTime}\" is not an RFC 3339 time");
            }

            since = t;
        }
        LogBook book = logs.Find(pod.Namespace, pod.Name, container)
            ?? throw ApiException.BadRequest($"container \"{container}\" in pod \"{pod.Name}\" is waiting to start: ContainerCreating");
        bool timestamps = HttpIo.Flag(q["timestamps"]);
        bool follow = HttpIo.Flag(q["follow"]);

        ctx.Response.StatusCode = 200;
        ctx.Response.ContentType = "text/plain";
        (List<LogLine>? lines, bool closed, Task? changed) = book.Read(-1);
        var selected = lines.Where(l => since is null || l.At >= since).ToList();
        if (tail is long n && selected.Count > n)
        {
            selected = selected.GetRange(selected.Count - (int)n, (int)n);
        }

        long written = 0L;
        long last = lines.Count > 0 ? lines[^1].Sequence : -1;
        if (!await WriteAsync(ctx, selected, timestamps, limitBytes, ref written))
        {
            return;
        }

        await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
        while (follow && !closed)
        {
            await changed.WaitAsync(ctx.RequestAborted);
            (lines, closed, changed) = book.Read(last);
            if (lines.Count > 0)
            {
                last = lines[^1].Sequence;
            }

            if (!await WriteAsync(ctx, lines, timestamps, limitBytes, ref written))
            {
                return;
            }

            await ctx.Response.Body.FlushAsync(ctx.RequestAborted);
        }
    }

    /// <summary>Writes lines until <paramref name="limitBytes"/> is reached; false when it was.</summary>
    private static ValueTask<bool> WriteAsync(HttpContext ctx, List<LogLine> lines, bool timestamps, long? limitBytes, ref long written)
    {
        var sb = new StringBuilder();
        foreach (LogLine l in lines)
        {
            if (timestamps)
            {
                sb.Append(l.At.UtcDateTime.ToString("yyyy-MM-dd'T'HH:mm:ss.fffffff'Z'", CultureInfo.InvariantCulture)).Append(' ');
            }

            sb.Append(l.Text).Append('\n');
        }
        byte[] bytes = Encoding.UTF8.GetBytes(sb.ToString());
        bool full = true;
        if (limitBytes is long limit && written + bytes.Length > limit)
        {
            bytes = bytes[..(int)(limit - written)];
            full = false;
        }
        written += bytes.Length;
        return Send(ctx, bytes, full);

        static async ValueTask<bool> Send(HttpContext ctx, byte[] bytes, bool full)
        {
            await ctx.Response.Body.WriteAsync(bytes, ctx.RequestAborted);
            return full;
        }
    }

    private static ApiException Invalid(StoredObject pod, string field, long? value, string why) =>
        new(422, "Invalid", $"PodLogOptions \"{pod.Name}\" is invalid: {field}: Invalid value: {value}: {why}")
        { DetailsName = pod.Name, DetailsKind = "PodLogOptions", Causes = [new("FieldValueInvalid", field, $"Invalid value: {value}: {why}")] };
}
