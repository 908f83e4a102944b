using Npgsql;

namespace SignalRChat.Tests.Infrastructure
{
    /// <summary>What the suite's <c>PostgresServer</c> (linked into the bench) asks of its Redis neighbour: a free loopback port.</summary>
    internal static class RedisServer
    {
        public static int FreePort() => SignalRChat.Bench.RedisServer.FreePort();
    }
}

namespace SignalRChat.Bench
{
    /// <summary>
    /// The durable record's cost, printed: fan-out 1×100 (delivered tokens/s as fast as the model yields, token latency at a
    /// model's pace) with the record in SQLite and in PostgreSQL against the record in memory, in one run, and the bytes the
    /// databases store per message. <c>--records</c>.
    /// </summary>
    internal static class RecordRun
    {
        public static async Task<int> RunAsync(BenchSettings settings, Action<string> log)
        {
            var folder = Directory.CreateTempSubdirectory("signalrchat-bench-sqlite-").FullName;
            await using var postgres = await SignalRChat.Tests.Infrastructure.PostgresServer.StartAsync();
            var postgresDatabase = await postgres.CreateDatabaseAsync();
            var sqliteFile = Path.Combine(folder, "chat.db");
            var scenarios = new Scenarios(settings, log);
            await using (var memoryNode = await ChatNode.StartAsync())
            await using (var sqliteNode = await ChatNode.StartAsync(new Dictionary<string, string?> { ["Chat:Storage:Provider"] = "Sqlite", ["ConnectionStrings:Sqlite"] = $"Data Source={sqliteFile}" }))
            await using (var postgresNode = await ChatNode.StartAsync(new Dictionary<string, string?> { ["Chat:Storage:Provider"] = "Postgres", ["ConnectionStrings:Postgres"] = postgresDatabase }))
            {
                var memory = new ChatService([memoryNode.Url], "memory record");
                await scenarios.FanOutAsync(new ChatService([sqliteNode.Url], "SQLite record"), memory, 1, 100, "fan-out 1×100, SQLite against memory", null);
                await scenarios.FanOutAsync(new ChatService([postgresNode.Url], "PostgreSQL record"), memory, 1, 100, "fan-out 1×100, PostgreSQL against memory", null);
                Print(scenarios, log);
                var sqliteStored = await StoredBytesAsync(sqliteNode, () => SqliteBytesAsync(sqliteFile),
                    () => CountAsync(new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={sqliteFile}")));
                log($"SQLite: {sqliteStored} (pages in use in the database, after a checkpoint of the WAL)");
                var postgresStored = await StoredBytesAsync(postgresNode, () => PostgresBytesAsync(postgresDatabase), () => CountAsync(new NpgsqlConnection(postgresDatabase)));
                log($"PostgreSQL: {postgresStored} (the messages table with its indexes)");
            }

            Microsoft.Data.Sqlite.SqliteConnection.ClearAllPools();
            Directory.Delete(folder, recursive: true);
            return 0;
        }

        private static void Print(Scenarios scenarios, Action<string> log)
        {
            foreach (var figure in scenarios.Figures.Where(f => !f.Metric.Contains("against", StringComparison.Ordinal)))
            {
                log(string.Create(System.Globalization.CultureInfo.InvariantCulture,
                    $"{figure.Scenario}: {figure.Metric} {figure.Chat:F2} against {figure.Baseline:F2} {figure.Unit} ({figure.Ratio:F2}×; target ≤ 1.1× for latency)"));
            }
        }

        /// <summary>How much the store grows per message: 100 asks of a reply of 40 words each (200 messages), once they are all recorded.</summary>
        private static async Task<string> StoredBytesAsync(RunningNode node, Func<Task<long>> bytes, Func<Task<long>> count)
        {
            const int Asks = 100;
            var chat = new ChatService([node.Url]);
            await using var member = await chat.ConnectAsync(0, "writer");
            await chat.JoinAsync(member, "stored");
            var messagesBefore = await count();
            var bytesBefore = await bytes();
            for (var i = 0; i < Asks; i++)
            {
                member.Arm(new Recorder(100));
                await chat.StartAsync(member, "stored", BenchModel.Request(40, 0, words: true));
                await member.Final.WaitAsync(TimeSpan.FromSeconds(30));
            }

            // The record is written behind the stream: wait until it holds every message.
            var deadline = DateTime.UtcNow + TimeSpan.FromSeconds(60);
            while (await count() < messagesBefore + (2 * Asks) && DateTime.UtcNow < deadline)
            {
                await Task.Delay(100);
            }

            var added = await count() - messagesBefore;
            var grown = await bytes() - bytesBefore;
            return $"{added:N0} messages added (a 30-character question and a 40-word answer each), {grown:N0} bytes more: {grown / (double)Math.Max(1, added):F0} bytes per message";
        }

        private static async Task<long> SqliteBytesAsync(string file)
        {
            await using var connection = new Microsoft.Data.Sqlite.SqliteConnection($"Data Source={file}");
            await connection.OpenAsync();
            async Task<long> PragmaAsync(string pragma)
            {
                await using var command = connection.CreateCommand();
                command.CommandText = $"PRAGMA {pragma}";
                return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
            }

            await PragmaAsync("wal_checkpoint(TRUNCATE)");
            return (await PragmaAsync("page_count") - await PragmaAsync("freelist_count")) * await PragmaAsync("page_size");
        }

        private static async Task<long> PostgresBytesAsync(string connectionString)
        {
            await using var connection = new NpgsqlConnection(connectionString);
            await connection.OpenAsync();
            await using var size = new NpgsqlCommand("SELECT pg_total_relation_size('messages')", connection);
            return Convert.ToInt64(await size.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
        }

        private static async Task<long> CountAsync(System.Data.Common.DbConnection connection)
        {
            await using (connection)
            {
                await connection.OpenAsync();
                await using var command = connection.CreateCommand();
                command.CommandText = "SELECT COUNT(*) FROM messages";
                return Convert.ToInt64(await command.ExecuteScalarAsync(), System.Globalization.CultureInfo.InvariantCulture);
            }
        }
    }
}
