using System.Globalization;
using ClientLb.Sandbox.Store;
using Microsoft.AspNetCore.Http;

namespace ClientLb.Sandbox.Pods;

/// <summary>
/// A fault a pod's HTTP server injects, set by annotations (also with <c>kubectl annotate</c>), so clients' passive
/// health and latency-aware policies can be watched at work: <see cref="FailAnnotation"/> = a 5xx status answers every
/// plain HTTP request with it, <see cref="DelayAnnotation"/> = milliseconds (up to 60000) delays every answer. gRPC calls
/// are not affected. A value outside those ranges injects nothing and the pod's log says why.
/// </summary>
internal sealed record PodFault(int FailStatus, TimeSpan Delay, string? Error)
{
    public const string FailAnnotation = "sandbox.clientlb.io/fail-status";
    public const string DelayAnnotation = "sandbox.clientlb.io/delay-ms";
    public const int MaxDelayMilliseconds = 60_000;

    public static PodFault None { get; } = new(0, TimeSpan.Zero, null);

    public static PodFault From(StoredObject pod)
    {
        string? fail = pod.Root.Str("metadata", "annotations", FailAnnotation);
        string? delay = pod.Root.Str("metadata", "annotations", DelayAnnotation);
        if (fail is null && delay is null)
        {
            return None;
        }
        int status = 0;
        if (fail is not null && (!int.TryParse(fail, NumberStyles.None, CultureInfo.InvariantCulture, out status) || status is < 500 or > 599))
        {
            return None with { Error = $"annotation {FailAnnotation}=\"{fail}\" ignored: it must be a 5xx status code" };
        }
        int milliseconds = 0;
        if (delay is not null && (!int.TryParse(delay, NumberStyles.None, CultureInfo.InvariantCulture, out milliseconds) || milliseconds > MaxDelayMilliseconds))
        {
            return None with { Error = $"annotation {DelayAnnotation}=\"{delay}\" ignored: it must be milliseconds from 0 to {MaxDelayMilliseconds}" };
        }
        return new PodFault(status, TimeSpan.FromMilliseconds(milliseconds), null);
    }

    /// <summary>Applies the fault to a plain HTTP request; true when it answered (a failure), false to answer normally.</summary>
    public async Task<bool> ApplyAsync(HttpContext context, TimeProvider time)
    {
        if (Delay > TimeSpan.Zero)
        {
            // A timer may fire up to its resolution early: wait out the rest, so an answer is never sooner than the delay.
            long start = time.GetTimestamp();
            try
            {
                for (TimeSpan waited = TimeSpan.Zero; waited < Delay; waited = time.GetElapsedTime(start))
                {
                    await Task.Delay(Delay - waited, time, context.RequestAborted);
                }
            }
            catch (OperationCanceledException)
            {
                return true;
            }
        }
        if (FailStatus == 0)
        {
            return false;
        }
        context.Response.StatusCode = FailStatus;
        context.Response.ContentType = "text/plain; charset=utf-8";
        await context.Response.WriteAsync($"sandbox fault: {FailAnnotation}={FailStatus}", context.RequestAborted);
        return true;
    }
}
