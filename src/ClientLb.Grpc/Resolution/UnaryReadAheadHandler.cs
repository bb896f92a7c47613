using System.Runtime.ExceptionServices;
using ClientLb.Grpc.Balancing;
using ClientLb.Grpc.Configuration;

namespace ClientLb.Grpc.Resolution;

/// <summary>
/// For a <c>clientlb:///</c> channel: reads the answer of a method listed in <c>UnaryMethods</c> to its end before grpc-dotnet
/// sees its headers. grpc-dotnet commits a call (no more retries) once response headers arrive, so a backend killed after
/// its headers and message but before its trailers would fail the call; read ahead, the lost connection is an error
/// starting the call, which the channel's retry policy retries on another subchannel.
/// </summary>
internal sealed class UnaryReadAheadHandler(MethodSet unary, int limit, HttpMessageHandler inner) : DelegatingHandler(inner)
{
    protected override async Task<HttpResponseMessage> SendAsync(HttpRequestMessage request, CancellationToken cancellationToken)
    {
        HttpResponseMessage response = await base.SendAsync(request, cancellationToken).ConfigureAwait(false);
        if (limit <= 0 || request.RequestUri is not Uri uri || !unary.Contains(uri.AbsolutePath) || GrpcHeaders.StatusOfHeaders(response) is not null)
        {
            return response;
        }
        ResponseReadAhead.Result ahead = await ResponseReadAhead.ReadAsync(response, limit, cancellationToken).ConfigureAwait(false);
        if (ahead.Error is Exception lost)
        {
            response.Dispose();
            ExceptionDispatchInfo.Throw(lost);
        }
        response.Content = ahead.Complete
            ? ResponseReadAhead.Buffered(response.Content, ahead.Body)
            : new CallResponseContent(response.Content, null, ahead.Body);
        return response;
    }
}
