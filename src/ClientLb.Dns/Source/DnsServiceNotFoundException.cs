using ClientLb.Names;


namespace ClientLb.Dns.Source;

/// <summary>
/// DNS answered, but with no usable endpoint for the service: NXDOMAIN, no records of the type, or SRV targets
/// that do not resolve. The message says which name was asked and what to check.
/// </summary>
public sealed class DnsServiceNotFoundException : Exception
{
    /// <summary>Creates the exception.</summary>
    public DnsServiceNotFoundException(ServiceName service, string queriedName, string answer)
        : base($"DNS has no endpoints for service '{service}': {answer} for '{queriedName}'. Check that the Service exists in namespace " +
               $"'{service.Namespace}' (kubectl get svc {service.Name} -n {service.Namespace}), that it has ready pods, and that the name, " +
               "namespace and cluster domain are spelled right.")
    {
        Service = service;
        QueriedName = queriedName;
        Answer = answer;
    }

    /// <summary>The service.</summary>
    public ServiceName Service { get; }

    /// <summary>The name that was asked for.</summary>
    public string QueriedName { get; }

    /// <summary>What DNS answered, e.g. <c>NXDOMAIN</c>.</summary>
    public string Answer { get; }
}
