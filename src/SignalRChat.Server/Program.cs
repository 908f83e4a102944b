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
catch (SignalRChat.Server.Storage.ChatRecordUnavailableException unavailable)
{
    // The database named by its setting could not be reached or migrated.
    Console.Error.WriteLine($"SignalRChat did not start: {unavailable.Message}");
    return 1;
}
