namespace ClientLb.Dns.Protocol;

/// <summary>
/// A DNS message (RFC 1035 §4.1): header flags, the four sections and EDNS. Immutable; build variants with
/// <c>with</c>. <see cref="Decode"/> parses untrusted bytes (every malformation is a <see cref="DnsFormatException"/>);
/// <see cref="Encode"/> writes queries and responses alike, so a server can be built on the same types.
/// </summary>
internal sealed record DnsMessage
{
    /// <summary>The size of the fixed header.</summary>
    public const int HeaderSize = 12;

    /// <summary>The message ID that pairs a response with its query.</summary>
    public ushort Id { get; init; }

    /// <summary>QR: this is a response.</summary>
    public bool IsResponse { get; init; }

    /// <summary>The operation.</summary>
    public DnsOpCode OpCode { get; init; }

    /// <summary>AA: the answer comes from an authoritative server.</summary>
    public bool IsAuthoritative { get; init; }

    /// <summary>TC: the message was truncated to fit the transport; ask again over TCP.</summary>
    public bool IsTruncated { get; init; }

    /// <summary>RD: the client wants recursion.</summary>
    public bool RecursionDesired { get; init; }

    /// <summary>RA: the server offers recursion.</summary>
    public bool RecursionAvailable { get; init; }

    /// <summary>AD: the data was validated by DNSSEC (RFC 4035).</summary>
    public bool AuthenticData { get; init; }

    /// <summary>CD: the client disabled DNSSEC checking.</summary>
    public bool CheckingDisabled { get; init; }

    /// <summary>The response code, including the EDNS extended bits.</summary>
    public DnsResponseCode ResponseCode { get; init; }

    /// <summary>The question section.</summary>
    public IReadOnlyList<DnsQuestion> Questions { get; init; } = [];

    /// <summary>The answer section.</summary>
    public IReadOnlyList<DnsRecord> Answers { get; init; } = [];

    /// <summary>The authority section (SOA of a negative answer, NS).</summary>
    public IReadOnlyList<DnsRecord> Authorities { get; init; } = [];

    /// <summary>The additional section, without the OPT record (see <see cref="Edns"/>).</summary>
    public IReadOnlyList<DnsRecord> Additionals { get; init; } = [];

    /// <summary>The EDNS data, or null when the message carries no OPT record.</summary>
    public DnsEdns? Edns { get; init; }

    /// <summary>Creates a recursive query for one question, with EDNS(0) advertising <paramref name="udpPayloadSize"/> unless it is null.</summary>
    public static DnsMessage CreateQuery(ushort id, DnsQuestion question, ushort? udpPayloadSize = DnsEdns.RecommendedUdpPayloadSize) => new()
    {
        Id = id,
        RecursionDesired = true,
        Questions = [question ?? throw new ArgumentNullException(nameof(question))],
        Edns = udpPayloadSize is ushort size ? new DnsEdns(size) : null,
    };

    /// <summary>Creates the skeleton of a response to <paramref name="query"/>: same ID, opcode, RD and questions; EDNS echoed when the query had it.</summary>
    public static DnsMessage CreateResponse(DnsMessage query, DnsResponseCode responseCode = DnsResponseCode.NoError)
    {
        ArgumentNullException.ThrowIfNull(query);
        return new DnsMessage
        {
            Id = query.Id,
            IsResponse = true,
            OpCode = query.OpCode,
            RecursionDesired = query.RecursionDesired,
            ResponseCode = responseCode,
            Questions = query.Questions,
            Edns = query.Edns is null ? null : new DnsEdns(DnsEdns.RecommendedUdpPayloadSize),
        };
    }

    /// <summary>Parses a message. Trailing bytes after the last counted record are ignored, as most resolvers do.</summary>
    /// <exception cref="DnsFormatException">The bytes are not a well-formed message; the exception names the field and offset.</exception>
    public static DnsMessage Decode(ReadOnlySpan<byte> message)
    {
        var reader = new DnsMessageReader(message);
        ushort id = reader.ReadUInt16("header.id");
        ushort flags = reader.ReadUInt16("header.flags");
        int qd = reader.ReadUInt16("header.qdcount");
        int an = reader.ReadUInt16("header.ancount");
        int ns = reader.ReadUInt16("header.nscount");
        int ar = reader.ReadUInt16("header.arcount");

        var questions = new List<DnsQuestion>(Math.Min(qd, 4));
        for (int i = 0; i < qd; i++)
        {
            string field = $"question[{i}]";
            string name = reader.ReadName(field + ".name");
            var type = (DnsRecordType)reader.ReadUInt16(field + ".type");
            var @class = (DnsClass)reader.ReadUInt16(field + ".class");
            questions.Add(new DnsQuestion(name, type, @class));
        }
        List<DnsRecord> answers = ReadSection(ref reader, "answer", an, out _);
        List<DnsRecord> authorities = ReadSection(ref reader, "authority", ns, out _);
        List<DnsRecord> additionals = ReadSection(ref reader, "additional", ar, out (DnsEdns Edns, byte ExtendedCode)? opt);

        int rcode = flags & 0x000F;
        if (opt is { } o)
        {
            rcode |= o.ExtendedCode << 4;
        }
        return new DnsMessage
        {
            Id = id,
            IsResponse = (flags & 0x8000) != 0,
            OpCode = (DnsOpCode)((flags >> 11) & 0x0F),
            IsAuthoritative = (flags & 0x0400) != 0,
            IsTruncated = (flags & 0x0200) != 0,
            RecursionDesired = (flags & 0x0100) != 0,
            RecursionAvailable = (flags & 0x0080) != 0,
            AuthenticData = (flags & 0x0020) != 0,
            CheckingDisabled = (flags & 0x0010) != 0,
            ResponseCode = (DnsResponseCode)rcode,
            Questions = questions,
            Answers = answers,
            Authorities = authorities,
            Additionals = additionals,
            Edns = opt?.Edns,
        };
    }

    /// <summary>Reads the ID of a message without parsing the rest, or null when it is shorter than a header.</summary>
    public static ushort? PeekId(ReadOnlySpan<byte> message) =>
        message.Length >= HeaderSize ? System.Buffers.Binary.BinaryPrimitives.ReadUInt16BigEndian(message) : null;

    /// <summary>Encodes the message, compressing names where RFC 1035 allows.</summary>
    /// <exception cref="ArgumentException">A name is invalid (the message quotes it).</exception>
    /// <exception cref="InvalidOperationException">The message exceeds 65535 bytes or a record holds inconsistent data.</exception>
    public byte[] Encode()
    {
        var writer = new DnsMessageWriter();
        Write(writer, Answers, Authorities, Additionals);
        return writer.ToArray();
    }

    /// <summary>
    /// Encodes for a transport limited to <paramref name="maxSize"/> bytes (a UDP response): when the whole message does
    /// not fit, returns the header with TC set, the questions and EDNS, so the client retries over TCP (RFC 2181 §9).
    /// </summary>
    public byte[] EncodeTruncated(int maxSize)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(maxSize, HeaderSize);
        byte[] full = Encode();
        if (full.Length <= maxSize)
        {
            return full;
        }
        var writer = new DnsMessageWriter();
        (this with { IsTruncated = true }).Write(writer, [], [], []);
        if (writer.Position > maxSize)
        {
            throw new InvalidOperationException($"Even the truncated DNS message ({writer.Position} bytes) exceeds {maxSize} bytes.");
        }
        return writer.ToArray();
    }

    /// <summary>Encodes into <paramref name="destination"/>; false when it does not fit.</summary>
    public bool TryEncode(Span<byte> destination, out int written)
    {
        byte[] bytes = Encode();
        written = bytes.Length <= destination.Length ? bytes.Length : 0;
        return bytes.AsSpan().TryCopyTo(destination);
    }

    /// <inheritdoc />
    public override string ToString() =>
        $"id={Id} {(IsResponse ? "response" : "query")} {ResponseCode}{(IsTruncated ? " TC" : "")} q=[{string.Join(", ", Questions)}] an={Answers.Count} ns={Authorities.Count} ar={Additionals.Count}";

    private void Write(DnsMessageWriter writer, IReadOnlyList<DnsRecord> answers, IReadOnlyList<DnsRecord> authorities, IReadOnlyList<DnsRecord> additionals)
    {
        if ((ushort)ResponseCode > 0x0F && Edns is null)
        {
            throw new InvalidOperationException($"The response code {ResponseCode} needs EDNS (an OPT record) to be sent.");
        }
        writer.WriteUInt16(Id);
        int flags = (IsResponse ? 0x8000 : 0) | (((int)OpCode & 0x0F) << 11) | (IsAuthoritative ? 0x0400 : 0) | (IsTruncated ? 0x0200 : 0)
            | (RecursionDesired ? 0x0100 : 0) | (RecursionAvailable ? 0x0080 : 0) | (AuthenticData ? 0x0020 : 0) | (CheckingDisabled ? 0x0010 : 0)
            | ((int)ResponseCode & 0x0F);
        writer.WriteUInt16((ushort)flags);
        writer.WriteUInt16(Count(Questions.Count, "questions"));
        writer.WriteUInt16(Count(answers.Count, "answers"));
        writer.WriteUInt16(Count(authorities.Count, "authorities"));
        writer.WriteUInt16(Count(additionals.Count + (Edns is null ? 0 : 1), "additionals"));
        foreach (DnsQuestion question in Questions)
        {
            writer.WriteName(question.Name);
            writer.WriteUInt16((ushort)question.Type);
            writer.WriteUInt16((ushort)question.Class);
        }
        WriteRecords(writer, answers);
        WriteRecords(writer, authorities);
        WriteRecords(writer, additionals);
        Edns?.Write(writer, ResponseCode);
    }

    private static void WriteRecords(DnsMessageWriter writer, IReadOnlyList<DnsRecord> records)
    {
        foreach (DnsRecord record in records)
        {
            if (record.Type == DnsRecordType.OPT)
            {
                throw new InvalidOperationException("Put EDNS data in DnsMessage.Edns, not as an OPT record in a section.");
            }
            writer.WriteName(record.Name);
            writer.WriteUInt16((ushort)record.Type);
            writer.WriteUInt16((ushort)record.Class);
            writer.WriteUInt32(record.Ttl);
            int lengthAt = writer.Position;
            writer.WriteUInt16(0);
            record.WriteData(writer);
            writer.PatchUInt16(lengthAt, checked((ushort)(writer.Position - lengthAt - 2)));
        }
    }

    private static ushort Count(int count, string section) =>
        count <= ushort.MaxValue ? (ushort)count : throw new InvalidOperationException($"The DNS message has {count} {section}; at most 65535 fit in the header.");

    private static List<DnsRecord> ReadSection(ref DnsMessageReader reader, string section, int count, out (DnsEdns, byte)? opt)
    {
        opt = null;
        // Every record takes at least 11 bytes, so the header's count cannot make us allocate beyond the input.
        var records = new List<DnsRecord>(Math.Min(count, reader.Remaining / 11));
        for (int i = 0; i < count; i++)
        {
            string field = $"{section}[{i}]";
            int start = reader.Position;
            string name = reader.ReadName(field + ".name");
            var type = (DnsRecordType)reader.ReadUInt16(field + ".type");
            if (type == DnsRecordType.OPT)
            {
                if (section != "additional" || opt is not null || name != DnsName.Root)
                {
                    throw new DnsFormatException(field, start, "an OPT record must be the only one, in the additional section, owned by the root");
                }
                opt = (DnsEdns.Read(ref reader, field, out byte extended), extended);
                continue;
            }
            var @class = (DnsClass)reader.ReadUInt16(field + ".class");
            uint ttl = reader.ReadUInt32(field + ".ttl");
            // RFC 2181 §8: a TTL with the top bit set is treated as zero.
            if (ttl > int.MaxValue)
            {
                ttl = 0;
            }
            int length = reader.ReadUInt16(field + ".rdlength");
            if (length > reader.Remaining)
            {
                throw new DnsFormatException(field + ".rdlength", reader.Position - 2, $"RDLENGTH {length} runs past the end of the message ({reader.Remaining} bytes left)");
            }
            records.Add(DnsRecord.ReadData(ref reader, name, type, @class, ttl, length, field));
        }
        return records;
    }
}
