namespace ClientLb.Dashboard.Tests.Infrastructure;

/// <summary>
/// The browser tests that assert a time (first render, a change on the page within a second): xUnit runs this
/// collection after the parallel ones, one test at a time. Each of them starts a sandbox or an app and a chromium;
/// a time taken while another one runs measures that one, not the page.
/// </summary>
[CollectionDefinition(Name, DisableParallelization = true)]
public sealed class MeasuredAlone
{
    /// <summary>The collection's name.</summary>
    public const string Name = "browser timings, measured alone";
}
