using System.Net;
using System.Net.WebSockets;
using System.Text.Json;
using ClientLb.Sandbox.Store;
using Microsoft.AspNetCore.Http;
using Microsoft.Extensions.Logging;

namespace ClientLb.Sandbox.Api.PortForward;

/// <summary>
/// pods/{name}/portforward as kubectl 1.31+ uses it by default (KEP-4006): a websocket with the subprotocol
/// "SPDY/3.1+portforward.k8s.io" whose binary messages carry a SPDY/3 session (see <see cref="PortForwardSession"/>).
/// The older direct SPDY/3.1 upgrade is declined with a Status that says so. kubectl resolves svc/x to a pod itself.
/// </summary>
internal sealed class PortForwardHandler(ObjectStore store, ILogger logger)
{
    public const string TunnelProtocol = "SPDY/3.1+portforward.k8s.io";

    /// <summary>The ports query of the channel protocol (comma-separated or repeated), each 1-65535.</summary>
    private static List<int> Ports(Microsoft.Extensions.Primitives.StringValues values)
    {
        var ports = new List<int>();
        foreach (string? part in values.SelectMany(v => (v ?? "").Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries)))
        {
            ports.Add(int.TryParse(part, System.Globalization.NumberStyles.None, System.Globalization.CultureInfo.InvariantCulture, out int p) && p is > 0 and <= 65535
                ? p
                : throw ApiException.BadRequest($"invalid port \"{part}\" in the ports query: must be an integer between 1 and 65535"));
        }

        return ports.Count > 0 ? ports : throw ApiException.BadRequest("port-forward over v4.channel.k8s.io needs at least one port in the ports query (?ports=8080)");
    }

    public async Task HandleAsync(HttpContext ctx, string ns, string name)
    {
        JsonElement pod = store.GetRequired(ResourceTypes.Pods, ns, name).Root;
        string? phase = pod.Str("status", "phase");
        string? podIp = pod.Str("status", "podIP");
        if (phase != "Running" || !IPAddress.TryParse(podIp, out IPAddress? address))
        {
            throw ApiException.BadRequest($"unable to forward ports to pod \"{name}\": it is not running (phase {phase ?? "unknown"}) or has no IP yet");
        }

        if (!ctx.WebSockets.IsWebSocketRequest)
        {
            string upgrade = ctx.Request.Headers.Upgrade.ToString();
            throw ApiException.BadRequest(upgrade.StartsWith("SPDY/", StringComparison.OrdinalIgnoreCase)
                ? $"the sandbox serves port-forward over websockets only (subprotocol {TunnelProtocol}, kubectl 1.31 and later by default), not over a direct {upgrade} upgrade; unset KUBECTL_PORT_FORWARD_WEBSOCKETS=false"
                : $"port-forward needs a websocket upgrade with the subprotocol {TunnelProtocol}");
        }
        IList<string> offered = ctx.WebSockets.WebSocketRequestedProtocols;
        if (!offered.Contains(TunnelProtocol, StringComparer.Ordinal))
        {
            if (offered.Contains(ChannelPortForward.Protocol, StringComparer.Ordinal))
            {
                List<int> ports = Ports(ctx.Request.Query["ports"]);
                using WebSocket channels = await ctx.WebSockets.AcceptWebSocketAsync(ChannelPortForward.Protocol);
                try { await ChannelPortForward.RunAsync(channels, address, $"{ns}/{name}", ports, logger, ctx.RequestAborted); }
                catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException) { }
                return;
            }
            throw ApiException.BadRequest($"none of the offered websocket subprotocols ({string.Join(", ", offered)}) is served for port-forward; the sandbox serves {TunnelProtocol} and {ChannelPortForward.Protocol}");
        }

        // .NET refuses "/" in a subprotocol name (RFC 6455 tokens); Go's websocket does not, and kubectl needs this one
        // echoed: the header is set by hand and the WebSocket itself created without a subprotocol.
        ctx.Response.Headers.SecWebSocketProtocol = TunnelProtocol;
        using WebSocket socket = await ctx.WebSockets.AcceptWebSocketAsync(new WebSocketAcceptContext());
        await using var tunnel = WebSocketStream.Create(socket, WebSocketMessageType.Binary, ownsWebSocket: false);
        using var framer = new SpdyFramer(tunnel);
        try
        {
            await new PortForwardSession(framer, address, $"{ns}/{name}", logger).RunAsync(ctx.RequestAborted);
            if (socket.State == WebSocketState.Open)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.NormalClosure, null, ctx.RequestAborted);
            }
        }
        catch (SpdyProtocolException ex)
        {
            logger.LogWarning("port-forward to {Namespace}/{Pod} ended: {Message}", ns, name, ex.Message);
            if (socket.State == WebSocketState.Open)
            {
                await socket.CloseOutputAsync(WebSocketCloseStatus.ProtocolError, ex.Message.Length > 120 ? ex.Message[..120] : ex.Message, ctx.RequestAborted);
            }
        }
        catch (Exception ex) when (ex is WebSocketException or IOException or OperationCanceledException)
        {
            // kubectl went away (Ctrl-C ends port-forward by closing the connection).
        }
    }
}
