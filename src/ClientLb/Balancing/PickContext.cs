namespace ClientLb.Balancing;

/// <summary>What a picker may consider for one pick. Passed by reference; never allocated.</summary>
public readonly struct PickContext
{
    /// <summary>Creates a context.</summary>
    /// <param name="request">The HTTP request being balanced, if any (for hash keys in later policies).</param>
    /// <param name="exclude">An endpoint to avoid, e.g. the one a retry is moving away from.</param>
    public PickContext(HttpRequestMessage? request, BalancedEndpoint? exclude = null)
    {
        Request = request;
        Exclude = exclude;
    }

    /// <summary>The HTTP request being balanced, if any.</summary>
    public HttpRequestMessage? Request { get; }

    /// <summary>An endpoint to avoid when another is available.</summary>
    public BalancedEndpoint? Exclude { get; }
}
