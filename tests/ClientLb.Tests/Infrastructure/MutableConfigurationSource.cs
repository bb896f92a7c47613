using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.Primitives;

namespace ClientLb.Tests.Infrastructure;

/// <summary>In-memory configuration whose whole content a test can replace, firing a reload as a file change would.</summary>
public sealed class MutableConfigurationSource : IConfigurationSource
{
    private readonly Provider _provider = new();

    public MutableConfigurationSource(IDictionary<string, string?> initial) => _provider.Replace(initial);

    public IConfigurationProvider Build(IConfigurationBuilder builder) => _provider;

    public void Replace(IDictionary<string, string?> values)
    {
        _provider.Replace(values);
        _provider.Fire();
    }

    private sealed class Provider : ConfigurationProvider
    {
        public void Replace(IDictionary<string, string?> values) =>
            Data = new Dictionary<string, string?>(values, StringComparer.OrdinalIgnoreCase);

        public void Fire() => OnReload();
    }
}
