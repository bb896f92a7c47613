using ClientLb.Sandbox.Store;

namespace ClientLb.Sandbox.Tests.Store;

public class SelectorTests
{
    private static readonly Dictionary<string, string> Labels = new() { ["app"] = "web", ["tier"] = "front", ["env"] = "prod" };

    [Theory]
    [InlineData("app=web", true)]
    [InlineData("app==web", true)]
    [InlineData("app!=web", false)]
    [InlineData("app!=api", true)]
    [InlineData("missing!=x", true)]
    [InlineData("tier in (front,back)", true)]
    [InlineData("tier in (back)", false)]
    [InlineData("env notin (dev,test)", true)]
    [InlineData("env notin (prod)", false)]
    [InlineData("app", true)]
    [InlineData("missing", false)]
    [InlineData("!missing", true)]
    [InlineData("!app", false)]
    [InlineData("app=web,tier in (front),!missing", true)]
    [InlineData("app=web,tier=back", false)]
    [InlineData("", true)]
    public void Label_selector_matches_like_the_api_server(string selector, bool expected) =>
        Assert.Equal(expected, LabelSelector.Parse(selector).Matches(Labels));

    [Theory]
    [InlineData("app in web")]
    [InlineData("-bad-=x")]
    [InlineData("app=,,x")]
    public void Bad_label_selectors_are_400_naming_the_selector(string selector)
    {
        ApiException ex = Assert.Throws<ApiException>(() => LabelSelector.Parse(selector));
        Assert.Equal(400, ex.Code);
        Assert.Contains(selector, ex.Message);
    }

    [Fact]
    public void Field_selector_rejects_unsupported_fields_by_name()
    {
        ApiException ex = Assert.Throws<ApiException>(() => FieldSelector.Parse("spec.replicas=3", ResourceTypes.Deployments));
        Assert.Equal(400, ex.Code);
        Assert.Contains("field label not supported: spec.replicas", ex.Message);
        Assert.Equal("x", FieldSelector.Parse("metadata.name=x", ResourceTypes.Pods).PinnedName);
    }
}
