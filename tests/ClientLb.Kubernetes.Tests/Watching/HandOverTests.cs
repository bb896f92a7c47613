using ClientLb.Kubernetes.Client;
using ClientLb.Kubernetes.Diagnostics;
using ClientLb.Kubernetes.Model;
using ClientLb.Kubernetes.Slices;
using ClientLb.Kubernetes.Watching;
using Microsoft.Extensions.Logging.Abstractions;

namespace ClientLb.Kubernetes.Tests.Watching;

/// <summary>A view changes scope only when the new scope's state is not older than what the view already published.</summary>
public sealed class HandOverTests : IDisposable
{
    private readonly KubernetesMetrics _metrics = new();

    public void Dispose() => _metrics.Dispose();

    /// <summary>A scope that is never started: it only stands for a feeder.</summary>
    private WatchScope Scope(string? service) =>
        new(new NoApi(), "shop", service, _ => null, () => [], WatchSettings.From(new KubernetesSourceOptions()), TimeProvider.System, NullLogger.Instance, _metrics);

    /// <summary>The state of service "a" read at <paramref name="at"/>: one slice per (name, resourceVersion).</summary>
    private static ServiceSlices Data(string at, params (string Name, string Version)[] slices) =>
        new("shop", "a", new Service { Metadata = new ObjectMeta { Name = "a", ResourceVersion = "5" } },
            [.. slices.Select(s => new EndpointSlice { Metadata = new ObjectMeta { Name = s.Name, ResourceVersion = s.Version } })], Synced: true)
        {
            SlicesVersion = at,
            ServicesVersion = at,
        };

    private static string? SliceVersion(ServiceView view) => view.Data.Slices.Single().Metadata.ResourceVersion;

    [Fact]
    public void A_scope_behind_the_view_waits_while_the_feeder_goes_on_then_takes_over_once_caught_up()
    {
        int handedOver = 0;
        var view = new ServiceView("shop", "a", TimeProvider.System, _ => handedOver++);
        WatchScope wide = Scope(null), own = Scope("a");
        view.SwitchFeeder(wide, Data("20", ("a-1", "20")), healthy: true);

        // Listed before the change the view already has: switching now would publish an older state.
        view.HandOverTo(own, Data("15", ("a-1", "10")));
        Assert.Same(wide, view.Feeder);
        Assert.Equal("20", SliceVersion(view));

        view.Apply(wide, Data("25", ("a-1", "25")));
        Assert.Equal("25", SliceVersion(view));
        view.Apply(own, Data("20", ("a-1", "20")));
        Assert.Same(wide, view.Feeder);
        Assert.Equal("25", SliceVersion(view));
        Assert.Equal(0, handedOver);

        view.Apply(own, Data("25", ("a-1", "25")));
        Assert.Same(own, view.Feeder);
        Assert.Null(view.Pending);
        Assert.Equal(1, handedOver);

        // The old feeder is ignored from now on.
        view.Apply(wide, Data("30", ("a-1", "30")));
        Assert.Equal("25", SliceVersion(view));
    }

    [Fact]
    public void A_scope_ahead_of_the_view_takes_over_at_once_and_an_equal_one_too()
    {
        var view = new ServiceView("shop", "a", TimeProvider.System);
        WatchScope wide = Scope(null), own = Scope("a"), other = Scope("a");
        view.SwitchFeeder(wide, Data("20", ("a-1", "20")), healthy: true);

        view.HandOverTo(own, Data("30", ("a-1", "30")));
        Assert.Same(own, view.Feeder);
        Assert.Equal("30", SliceVersion(view));

        // Same objects read at a lower position (the other scope saw no change of "a" since): nothing goes back.
        view.HandOverTo(other, Data("28", ("a-1", "30")));
        Assert.Same(other, view.Feeder);
    }

    [Fact]
    public void The_feeder_catching_up_with_a_scope_ahead_completes_the_hand_over()
    {
        var view = new ServiceView("shop", "a", TimeProvider.System);
        WatchScope wide = Scope(null), own = Scope("a");
        view.SwitchFeeder(wide, Data("x20", ("a-1", "x20")), healthy: true);

        // Opaque versions: only identical objects prove the new scope is not behind.
        view.HandOverTo(own, Data("x30", ("a-1", "x30")));
        Assert.Same(wide, view.Feeder);
        view.Apply(wide, Data("x30", ("a-1", "x30")));
        Assert.Same(own, view.Feeder);
    }

    [Fact]
    public void An_unlisted_scope_never_takes_over_and_a_cancelled_hand_over_is_forgotten()
    {
        var view = new ServiceView("shop", "a", TimeProvider.System);
        WatchScope wide = Scope(null), own = Scope("a");
        view.SwitchFeeder(wide, Data("20", ("a-1", "20")), healthy: true);

        view.HandOverTo(own, ServiceSlices.Empty("shop", "a") with { SlicesVersion = "40", ServicesVersion = "40" });
        Assert.Same(wide, view.Feeder);
        view.HandOverTo(wide, Data("20", ("a-1", "20")));
        Assert.Null(view.Pending);
        view.Apply(own, Data("40", ("a-1", "40")));
        Assert.Same(wide, view.Feeder);
    }

    [Theory]
    [InlineData("10", "9", true)]
    [InlineData("9", "10", false)]
    [InlineData("100", "99", true)]
    [InlineData("42", "42", true)]
    [InlineData("010", "9", false)]
    [InlineData("abc", "1", false)]
    [InlineData("", "1", false)]
    [InlineData(null, "1", false)]
    public void Resource_versions_compare_as_integers_when_they_are_ones(string? a, string? b, bool atLeast) =>
        Assert.Equal(atLeast, ServiceSlices.IsAtLeast(a, b));

    [Fact]
    public void A_deleted_slice_or_service_is_newer_only_when_read_at_a_higher_position()
    {
        ServiceSlices current = Data("20", ("a-1", "18"), ("a-2", "20"));
        Assert.True(Data("21", ("a-1", "18")).CanReplace(current));
        Assert.False(Data("19", ("a-1", "18")).CanReplace(current));
        ServiceSlices noService = Data("21", ("a-1", "18"), ("a-2", "20")) with { Service = null };
        Assert.True(noService.CanReplace(current));
        Assert.False((noService with { ServicesVersion = "19" }).CanReplace(current));
    }

    private sealed class NoApi : IKubernetesApi
    {
        public string Description => "none";

        public Task<KubernetesList<EndpointSlice>> ListEndpointSlicesAsync(string @namespace, ListOptions options, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<IWatchStream<EndpointSlice>> WatchEndpointSlicesAsync(string @namespace, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<KubernetesList<Service>> ListServicesAsync(string @namespace, ListOptions options, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<IWatchStream<Service>> WatchServicesAsync(string @namespace, ListOptions options, string resourceVersion, TimeSpan timeout, CancellationToken cancellationToken) => throw new NotSupportedException();

        public Task<Service?> GetServiceAsync(string @namespace, string name, CancellationToken cancellationToken) => throw new NotSupportedException();
    }
}
