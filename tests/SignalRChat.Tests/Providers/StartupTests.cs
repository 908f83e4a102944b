using System.Diagnostics;
using SignalRChat.Server;

namespace SignalRChat.Tests.Providers;

/// <summary>The service started as a process, as a user starts it, with a provider set up wrongly.</summary>
public sealed class StartupTests
{
    [Fact]
    public async Task The_process_stops_with_a_sentence_naming_the_missing_key_and_no_stack_trace()
    {
        var serverDll = typeof(ChatApp).Assembly.Location;
        var start = new ProcessStartInfo("dotnet")
        {
            RedirectStandardError = true,
            RedirectStandardOutput = true,
            UseShellExecute = false,
        };
        foreach (var argument in new[] { serverDll, "--urls", "http://127.0.0.1:0", "--Chat:Model:Provider=OpenAI", "--Chat:OpenAI:Endpoint=http://127.0.0.1:9/v1", "--Chat:OpenAI:ApiKey=sk-never-shown-0815" })
        {
            start.ArgumentList.Add(argument);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        await process.WaitForExitAsync().WaitAsync(TimeSpan.FromSeconds(60));

        Assert.Equal(1, process.ExitCode);
        var error = await stderr;
        Assert.StartsWith("SignalRChat did not start: Chat:OpenAI:Model must name the model", error);
        Assert.DoesNotContain("   at ", error);
        Assert.DoesNotContain("0815", error + await stdout);
    }
}
