namespace ClientLb.Agent.Model;

/// <summary>A service the agent did not program (or whose last valid state it kept), and why.</summary>
/// <param name="Service"><c>namespace/name</c> as given (shortened and escaped when hostile).</param>
/// <param name="Reason">What is wrong, naming the field or the conflicting service.</param>
public sealed record ServiceRejection(string Service, string Reason)
{
    /// <inheritdoc />
    public override string ToString() => $"{Service}: {Reason}";
}
