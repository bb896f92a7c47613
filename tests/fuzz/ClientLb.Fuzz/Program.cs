using ClientLb.Fuzz;
using SharpFuzz;

// ClientLb.Fuzz TARGET             runs under afl-fuzz (persistent, in-process: SharpFuzz's fork-server equivalent)
// ClientLb.Fuzz TARGET FILE...     runs each file once and says which one failed (replaying a crash, checking a corpus)
if (args.Length == 0 || !Targets.All.TryGetValue(args[0], out Action<byte[]>? target))
{
    Console.Error.WriteLine($"usage: ClientLb.Fuzz TARGET [FILE...]; targets: {string.Join(", ", Targets.All.Keys)}");
    return 2;
}
if (args.Length > 1)
{
    foreach (string file in args.Skip(1))
    {
        try
        {
            target(File.ReadAllBytes(file));
        }
        catch (Exception ex)
        {
            Console.Error.WriteLine($"{file}: {ex}");
            return 1;
        }
    }
    Console.WriteLine($"{args.Length - 1} input(s) of {args[0]} passed");
    return 0;
}
Fuzzer.Run(stream =>
{
    using var buffer = new MemoryStream();
    stream.CopyTo(buffer);
    target(buffer.ToArray());
});
return 0;
