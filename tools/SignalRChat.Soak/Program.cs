using SignalRChat.Soak;

SoakOptions options;
try
{
    options = SoakOptions.Parse(args);
}
catch (ArgumentException ex)
{
    Console.Error.WriteLine($"SignalRChat.Soak: {ex.Message}");
    Console.Error.WriteLine(SoakOptions.Usage);
    return 2;
}

var passed = await new SoakRun(options, Console.Out).RunAsync();
Console.WriteLine(passed ? "soak passed" : "soak FAILED");
return passed ? 0 : 1;
