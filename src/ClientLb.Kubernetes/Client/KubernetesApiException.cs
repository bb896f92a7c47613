using System.Net;
using ClientLb.Kubernetes.Model;

namespace ClientLb.Kubernetes.Client;

/// <summary>The API server answered a request with an error (or an ERROR watch event). Never holds the token.</summary>
public sealed class KubernetesApiException : Exception
{
    /// <summary>Creates the exception.</summary>
    internal KubernetesApiException(string verb, string resource, HttpStatusCode statusCode, Status? status, TimeSpan? retryAfter = null, string? hint = null)
        : base($"{verb} {resource}: {(int)statusCode} {status?.Reason ?? statusCode.ToString()}" +
               (string.IsNullOrEmpty(status?.Message) ? "" : ": " + status.Message) + (hint is null ? "" : ". " + hint))
    {
        Verb = verb;
        Resource = resource;
        StatusCode = statusCode;
        Status = status;
        RetryAfter = retryAfter;
    }

    /// <summary>The verb (<c>list</c>, <c>watch</c>, <c>get</c>).</summary>
    public string Verb { get; }

    /// <summary>The path of the request, without the query.</summary>
    public string Resource { get; }

    /// <summary>The HTTP status (or the code of the ERROR event's Status).</summary>
    public HttpStatusCode StatusCode { get; }

    /// <summary>The Status the server sent, if it sent one.</summary>
    internal Status? Status { get; }

    /// <summary>The message of the Status the server sent (why it refused, in its words), if it sent one.</summary>
    public string? StatusMessage => Status?.Message;

    /// <summary>The server's Retry-After, if any (429 and some 5xx).</summary>
    public TimeSpan? RetryAfter { get; }

    /// <summary>410 Gone / Expired: the resourceVersion is too old; the client must re-list.</summary>
    public bool IsGone => StatusCode == HttpStatusCode.Gone;
}
