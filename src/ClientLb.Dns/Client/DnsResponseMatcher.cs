using ClientLb.Dns.Protocol;

namespace ClientLb.Dns.Client;

/// <summary>
/// Decides whether a datagram is the answer to our query (RFC 5452 §9.1: ID, question and source must match).
/// Anything else is ignored rather than trusted, which is what defeats blind spoofing.
/// </summary>
internal static class DnsResponseMatcher
{
    /// <summary>Returns null when <paramref name="response"/> answers the query, else why it does not.</summary>
    public static string? Mismatch(DnsMessage response, ushort id, DnsQuestion question)
    {
        if (response.Id != id)
        {
            return $"its ID {response.Id} is not the query's {id}";
        }
        if (!response.IsResponse)
        {
            return "it is a query, not a response";
        }
        if (response.OpCode != DnsOpCode.Query)
        {
            return $"its opcode is {response.OpCode}";
        }
        // Some servers drop the question from a FORMERR; glibc accepts that case too.
        if (response.Questions.Count == 0 && response.ResponseCode == DnsResponseCode.FormErr)
        {
            return null;
        }
        if (response.Questions.Count != 1 || !response.Questions[0].Matches(question))
        {
            return $"its question [{string.Join(", ", response.Questions)}] is not [{question}]";
        }
        return null;
    }
}
