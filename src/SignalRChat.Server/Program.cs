using Microsoft.Extensions.Options;
using SignalRChat.Server;

try
{
    ChatApp.Build(args).Run();
    return 0;
}
catch (OptionsValidationException invalid)
{
    // A configuration mistake deserves the sentence that names the key, not a stack trace.
    Console.Error.WriteLine($"SignalRChat did not start: {string.Join("; ", invalid.Failures)}");
    return 1;
}
