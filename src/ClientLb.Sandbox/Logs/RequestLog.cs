using System.Globalization;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Http;
using Microsoft.AspNetCore.Http.Features;

namespace ClientLb.Sandbox.Logs;

/// <summary>
/// Wraps a pod's HTTP application so every request leaves an access-log line in the pod's log
/// (<c>kubectl logs</c>): time, client address, method, path and status.
/// </summary>
internal sealed class RequestLog(IHttpApplication<HttpContext> inner, Func<int, LogBook> bookOfPort, TimeProvider time) : IHttpApplication<HttpContext>
{
    public HttpContext CreateContext(IFeatureCollection contextFeatures) => inner.CreateContext(contextFeatures);

    public async Task ProcessRequestAsync(HttpContext context)
    {
        int status = 500;
        try
        {
            await inner.ProcessRequestAsync(context);
            status = context.Response.StatusCode;
        }
        finally
        {
            ConnectionInfo c = context.Connection;
            HttpRequest r = context.Request;
            bookOfPort(c.LocalPort).Write(string.Create(CultureInfo.InvariantCulture,
                $"{time.GetUtcNow():yyyy-MM-dd'T'HH:mm:ss.fff'Z'} {c.RemoteIpAddress}:{c.RemotePort} \"{r.Method} {r.Path}{r.QueryString} {r.Protocol}\" {status}"));
        }
    }

    public void DisposeContext(HttpContext context, Exception? exception) => inner.DisposeContext(context, exception);
}
