using SignalRChat.Cli;
using Spectre.Console;

CliOptions options;
try
{
    options = CliOptions.Parse(args, Environment.GetEnvironmentVariable("SIGNALRCHAT_SERVER"));
}
catch (ArgumentException ex)
{
    await Console.Error.WriteLineAsync($"signalrchat: {ex.Message}");
    return 64;
}

if (options.Help)
{
    Console.WriteLine(CliOptions.Usage);
    return 0;
}

var session = new ChatSession(options, AnsiConsole.Console);
return await session.RunAsync();
