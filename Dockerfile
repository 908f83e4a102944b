# syntax=docker/dockerfile:1
# The chat service as one image; docker-compose.yml runs it as several nodes behind nginx.
#   docker build -t signalrchat .

# The chat page: client-js bundled by esbuild into src/SignalRChat.Server/wwwroot (client-js/build.mjs).
FROM node:20-bookworm-slim AS page
WORKDIR /src/client-js
COPY client-js/package.json client-js/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY client-js/ ./
RUN npm run build --silent

# The server. Project files first, so the restore layer is reused while only code changes.
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
WORKDIR /src
COPY global.json Directory.Build.props Directory.Packages.props .editorconfig ./
COPY src/SignalRChat.Contracts/SignalRChat.Contracts.csproj src/SignalRChat.Contracts/
COPY src/SignalRChat.Server/SignalRChat.Server.csproj src/SignalRChat.Server/
RUN dotnet restore src/SignalRChat.Server/SignalRChat.Server.csproj
COPY src/ src/
COPY --from=page /src/src/SignalRChat.Server/wwwroot/ src/SignalRChat.Server/wwwroot/
# The page is already built, so the server's build must not run npm (there is no Node.js here).
RUN dotnet publish src/SignalRChat.Server/SignalRChat.Server.csproj -c Release --no-restore -p:SkipChatPage=true -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
# curl only for the health check: the runtime image has no HTTP client of its own.
RUN apt-get update \
    && apt-get install -y --no-install-recommends curl \
    && rm -rf /var/lib/apt/lists/*
WORKDIR /app
COPY --from=build /app ./
# ASPNETCORE_HTTP_PORTS (set by the base image) is cleared so that ASPNETCORE_URLS alone decides,
# without a warning about one overriding the other at start.
ENV ASPNETCORE_URLS=http://+:8080 \
    ASPNETCORE_HTTP_PORTS= \
    ASPNETCORE_ENVIRONMENT=Production
# The base image's unprivileged "app" user.
USER $APP_UID
EXPOSE 8080
HEALTHCHECK --interval=10s --timeout=3s --start-period=15s --retries=3 \
    CMD curl -fsS -o /dev/null http://127.0.0.1:8080/health || exit 1
ENTRYPOINT ["dotnet", "SignalRChat.Server.dll"]
