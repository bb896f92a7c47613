using Microsoft.Playwright;

namespace ClientLb.Dashboard.Tests.Infrastructure;

/// <summary>
/// Debian's chromium (/usr/bin/chromium, which ./test.sh installs when missing) driven by Playwright, headless, with a
/// fresh profile and no background networking (the machine has no route out). Playwright's own browser downloads are
/// never used.
/// </summary>
public sealed class Browser : IAsyncLifetime
{
    public const string ChromiumPath = "/usr/bin/chromium";
    private IPlaywright? _playwright;
    private string? _profile;

    public IBrowserContext Context { get; private set; } = null!;

    public async Task InitializeAsync()
    {
        if (!File.Exists(ChromiumPath))
        {
            throw new InvalidOperationException($"The browser tests need Debian's chromium at {ChromiumPath}: run ./test.sh as root (it installs it) or 'apt-get install chromium'.");
        }
        _playwright = await Playwright.CreateAsync();
        _profile = Directory.CreateTempSubdirectory("clientlb-dashboard-chromium-").FullName;
        Context = await _playwright.Chromium.LaunchPersistentContextAsync(_profile, new BrowserTypeLaunchPersistentContextOptions
        {
            ExecutablePath = ChromiumPath,
            Headless = true,
            Args = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync"],
            ViewportSize = new ViewportSize { Width = 1400, Height = 900 },
        });
    }

    public async Task<IPage> OpenAsync(Uri address)
    {
        IPage page = await Context.NewPageAsync();
        await page.GotoAsync(address.ToString());
        return page;
    }

    public async Task DisposeAsync()
    {
        if (Context is not null)
        {
            await Context.CloseAsync();
        }
        _playwright?.Dispose();
        if (_profile is not null)
        {
            Directory.Delete(_profile, recursive: true);
        }
    }
}
