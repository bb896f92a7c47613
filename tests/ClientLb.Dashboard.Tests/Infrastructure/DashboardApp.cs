using System.Security.Claims;
using System.Text.Encodings.Web;
using ClientLb.Dashboard;
using ClientLb.Registry;
using ClientLb.Tests.Infrastructure;
using Microsoft.AspNetCore.Authentication;
using Microsoft.AspNetCore.Builder;
using Microsoft.AspNetCore.Hosting;
using Microsoft.AspNetCore.Hosting.Server;
using Microsoft.AspNetCore.Hosting.Server.Features;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Logging;
using Microsoft.Extensions.Options;

namespace ClientLb.Dashboard.Tests.Infrastructure;

/// <summary>
/// A real ASP.NET Core app on 127.0.0.1 that uses ClientLb (HttpClient "lb", configuration it can change) and maps the
/// dashboard, as an operator's app would.
/// </summary>
public sealed class DashboardApp : IAsyncDisposable
{
    private readonly WebApplication _app;

    private DashboardApp(WebApplication app, MutableConfigurationSource configuration, Uri address)
    {
        _app = app;
        Configuration = configuration;
        Address = address;
    }

    public MutableConfigurationSource Configuration { get; }

    /// <summary>The app's base address, e.g. http://127.0.0.1:41234/.</summary>
    public Uri Address { get; }

    public IServiceProvider Services => _app.Services;

    public ServiceRegistry Registry => _app.Services.GetRequiredService<ServiceRegistry>();

    public Uri Dashboard => new(Address, "clientlb/");

    public static async Task<DashboardApp> StartAsync(IDictionary<string, string?> config, Action<IServiceCollection>? services = null,
        Action<WebApplication>? map = null, bool withAuthentication = false)
    {
        var configuration = new MutableConfigurationSource(config);
        WebApplicationBuilder builder = WebApplication.CreateSlimBuilder();
        builder.Logging.ClearProviders();
        builder.Configuration.Sources.Clear();
        ((IConfigurationBuilder)builder.Configuration).Add(configuration);
        builder.WebHost.UseUrls("http://127.0.0.1:0");
        builder.Services.AddClientLb();
        builder.Services.AddHttpClient("lb").AddClientLb();
        if (withAuthentication)
        {
            builder.Services.AddAuthentication(HeaderAuthentication.Name).AddScheme<AuthenticationSchemeOptions, HeaderAuthentication>(HeaderAuthentication.Name, null);
            builder.Services.AddAuthorization(o => o.AddPolicy("ops", p => p.RequireClaim("role", "ops")));
        }
        services?.Invoke(builder.Services);
        WebApplication app = builder.Build();
        if (withAuthentication)
        {
            app.UseAuthentication();
            app.UseAuthorization();
        }
        (map ?? (a => a.MapClientLbDashboard()))(app);
        await app.StartAsync();
        string bound = app.Services.GetRequiredService<IServer>().Features.Get<IServerAddressesFeature>()!.Addresses.First();
        return new DashboardApp(app, configuration, new Uri(bound + "/"));
    }

    public HttpClient CreateClient(string baseAddress)
    {
        HttpClient client = _app.Services.GetRequiredService<IHttpClientFactory>().CreateClient("lb");
        client.BaseAddress = new Uri(baseAddress);
        return client;
    }

    /// <summary>A plain client of the app itself (the dashboard's API).</summary>
    public HttpClient CreateApiClient() => new() { BaseAddress = Address };

    public static Dictionary<string, string?> Endpoints(string service, IEnumerable<string> endpoints, Dictionary<string, string?>? into = null)
    {
        into ??= [];
        int i = 0;
        foreach (string endpoint in endpoints)
        {
            into[$"ClientLb:Services:{service}:Endpoints:{i++}"] = endpoint;
        }
        return into;
    }

    public async ValueTask DisposeAsync()
    {
        await _app.StopAsync();
        await _app.DisposeAsync();
    }

    /// <summary>Authenticates a request whose <c>X-Role</c> header names a role: enough to test the dashboard's policy hook.</summary>
    private sealed class HeaderAuthentication(IOptionsMonitor<AuthenticationSchemeOptions> options, ILoggerFactory logger, UrlEncoder encoder)
        : AuthenticationHandler<AuthenticationSchemeOptions>(options, logger, encoder)
    {
        public const string Name = "header";

        protected override Task<AuthenticateResult> HandleAuthenticateAsync()
        {
            string? role = Request.Headers["X-Role"];
            if (string.IsNullOrEmpty(role))
            {
                return Task.FromResult(AuthenticateResult.NoResult());
            }
            var identity = new ClaimsIdentity([new Claim("role", role)], Name);
            return Task.FromResult(AuthenticateResult.Success(new AuthenticationTicket(new ClaimsPrincipal(identity), Name)));
        }
    }
}
