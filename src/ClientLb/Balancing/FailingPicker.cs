namespace ClientLb.Balancing;

/// <summary>The picker of a service with nothing eligible: every pick fails fast with the same reason.</summary>
internal sealed class FailingPicker(NoEndpointsException error) : EndpointPicker
{
    public NoEndpointsException Error { get; } = error;

    public override IReadOnlyList<BalancedEndpoint> Endpoints => [];

    public override NoEndpointsException Failure => Error;

    public override BalancedEndpoint Pick(in PickContext context) =>
        throw new NoEndpointsException(Error.Service, Error.SourceDescription, Error.Reason, Error.InnerException);
}
