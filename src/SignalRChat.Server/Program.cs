using SignalRChat.Server;

var app = ChatApp.Build(args);
app.Run();
