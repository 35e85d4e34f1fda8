// Host tests for the DNS stub resolver's pure parts (lib/net/dns.h): names
// taken and refused, the query's exact bytes and its refusal of a buffer
// too small by any amount, and responses written here field by field (by a
// builder that shares nothing with the library) read as answers, empty
// answers, errors, answers to another query and malformed messages: every
// prefix of a sound response, pointer loops, pointers and lengths past the
// end, reserved label types, names too long once expanded and counts of
// records that are not there.
#include "lib/net/dns.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace {

using capos::net::dns::Addresses;
using capos::net::dns::max_addresses;
using capos::net::dns::max_message;
using capos::net::dns::max_name;
using capos::net::dns::read_response;
using capos::net::dns::Status;
using capos::net::dns::to_string;
using capos::net::dns::Type;
using capos::net::dns::valid_name;
using capos::net::dns::write_query;

using Bytes = std::vector<uint8_t>;

constexpr uint16_t flag_qr = 0x8000;
constexpr uint16_t flag_tc = 0x0200;
constexpr uint16_t flag_rd = 0x0100;
constexpr uint16_t flag_ra = 0x0080;
constexpr uint16_t type_a = 1;
constexpr uint16_t type_cname = 5;
constexpr uint16_t type_aaaa = 28;
constexpr uint16_t class_in = 1;
constexpr uint16_t class_ch = 3;
constexpr uint16_t question_offset = 12;

constexpr uint16_t query_id = 0x1234;
constexpr std::string_view query_name = "www.example.com";

const Bytes address_a = {192, 0, 2, 1};
const Bytes address_aaaa = {0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1};

// A message written the way RFC 1035 4.1 lays it out, one field at a time.
struct Builder {
    Bytes bytes;

    Builder& u8(uint8_t value) {
        bytes.push_back(value);
        return *this;
    }
    Builder& u16(uint16_t value) { return u8(uint8_t(value >> 8)).u8(uint8_t(value & 0xff)); }
    Builder& u32(uint32_t value) { return u16(uint16_t(value >> 16)).u16(uint16_t(value)); }
    Builder& raw(const Bytes& more) {
        bytes.insert(bytes.end(), more.begin(), more.end());
        return *this;
    }
    Builder& header(uint16_t id, uint16_t flags, uint16_t questions, uint16_t answers,
                    uint16_t authorities = 0, uint16_t additionals = 0) {
        return u16(id).u16(flags).u16(questions).u16(answers).u16(authorities).u16(additionals);
    }
    // The dotted name's labels, without their final zero.
    Builder& labels(std::string_view dotted) {
        while (!dotted.empty()) {
            size_t dot = dotted.find('.');
            std::string_view label = dotted.substr(0, dot);
            u8(uint8_t(label.size()));
            for (char c : label)
                u8(uint8_t(c));
            dotted = dot == std::string_view::npos ? "" : dotted.substr(dot + 1);
        }
        return *this;
    }
    Builder& name(std::string_view dotted) { return labels(dotted).u8(0); }
    Builder& pointer(uint16_t offset) { return u16(uint16_t(0xc000 | offset)); }
    // A record's fields after its owner name.
    Builder& record(uint16_t type, uint16_t klass, uint32_t ttl, const Bytes& rdata) {
        return u16(type).u16(klass).u32(ttl).u16(uint16_t(rdata.size())).raw(rdata);
    }
    size_t size() const { return bytes.size(); }
};

// A response's header and question: the id, QR, RD and RA with `flags`
// added, one question for `name`, `type` and `klass`.
Builder response(uint16_t answers, uint16_t flags = 0, std::string_view name = query_name,
                 uint16_t type = type_a, uint16_t klass = class_in, uint16_t id = query_id) {
    Builder message;
    message.header(id, uint16_t(flag_qr | flag_rd | flag_ra | flags), 1, answers)
        .name(name)
        .u16(type)
        .u16(klass);
    return message;
}

struct Outcome {
    Status status;
    Addresses addresses;
};

Outcome read(const Bytes& message, Type type = Type::A, std::string_view name = query_name,
             uint16_t id = query_id) {
    Outcome outcome{};
    outcome.status = read_response(message, id, name, type, outcome.addresses);
    return outcome;
}

Bytes address_at(const Addresses& addresses, size_t index) {
    return Bytes(addresses.bytes[index], addresses.bytes[index] + addresses.length[index]);
}

Bytes joined(Bytes first, const Bytes& second) {
    first.insert(first.end(), second.begin(), second.end());
    return first;
}

// Three labels of 63 bytes and one of `last`: 253 bytes of text for 61,
// the longest name.
std::string four_labels(size_t last) {
    return std::string(63, 'a') + "." + std::string(63, 'b') + "." + std::string(63, 'c') + "." +
           std::string(last, 'd');
}

// Names no query may ask for: empty, empty labels (first, inside, last but
// for the one final dot), a label of 64 bytes, a name of 254, other bytes.
std::vector<std::string> invalid_names() {
    return {"",
            ".",
            "..",
            "a..b",
            ".a",
            ".example.com",
            "a.b..",
            std::string(64, 'a') + ".com",
            std::string(64, 'a'),
            four_labels(62),
            four_labels(62) + ".",
            "a b",
            "a/b",
            "a*.com",
            "caf\xc3\xa9",
            std::string("a\0b", 3),
            "a.b\n",
            "a:b",
            "exa\x01mple.com"};
}

// Every proper prefix of `message` must be refused, never read as an answer.
void expect_prefixes_refused(const Bytes& message, Type type = Type::A) {
    for (size_t size = 0; size < message.size(); ++size) {
        Bytes prefix(message.begin(), message.begin() + ptrdiff_t(size));
        Outcome outcome = read(prefix, type);
        EXPECT_TRUE(outcome.status == Status::Malformed || outcome.status == Status::NotOurs)
            << "prefix of " << size << " bytes: " << to_string(outcome.status);
        EXPECT_EQ(outcome.addresses.count, 0u) << "prefix of " << size << " bytes";
    }
}

TEST(DnsName, TakesLabelsOfLettersDigitsHyphensAndUnderscores) {
    std::string longest = four_labels(61);
    ASSERT_EQ(longest.size(), max_name);
    std::vector<std::string> good = {"a",
                                     "example.com",
                                     "example.com.",
                                     "WWW.Example.COM",
                                     "_sip._tcp.example.org",
                                     "xn--bcher-kva.example",
                                     "-a-.0.9",
                                     longest,
                                     longest + ".",
                                     std::string(63, 'x')};
    for (const std::string& name : good)
        EXPECT_TRUE(valid_name(name)) << name;
}

TEST(DnsName, RefusesEmptyLabelsLongLabelsLongNamesAndOtherBytes) {
    std::string too_long = four_labels(62);
    ASSERT_EQ(too_long.size(), max_name + 1);
    for (const std::string& name : invalid_names())
        EXPECT_FALSE(valid_name(name)) << name;
}

TEST(DnsQuery, ExactBytes) {
    // The id, flags with only RD, one question, no records of any section.
    Bytes header = {0x12, 0x34, 0x01, 0x00, 0x00, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00};
    // The labels, the zero, type A, class IN.
    Bytes question = {3,   'w', 'w', 'w', 7,   'e', 'x',  'a',  'm',  'p', 'l',
                      'e', 3,   'c', 'o', 'm', 0,   0x00, 0x01, 0x00, 0x01};
    uint8_t out[max_message];
    size_t length = write_query(0x1234, "www.example.com", Type::A, out);
    EXPECT_EQ(Bytes(out, out + length), joined(header, question));

    // The final dot is not written; AAAA is type 28.
    header[0] = 0xbe;
    header[1] = 0xef;
    question = {1, 'A', 2, 'b', '-', 0, 0x00, 0x1c, 0x00, 0x01};
    length = write_query(0xbeef, "A.b-.", Type::Aaaa, out);
    EXPECT_EQ(Bytes(out, out + length), joined(header, question));
    length = write_query(0xbeef, "A.b-", Type::Aaaa, out);
    EXPECT_EQ(Bytes(out, out + length), joined(header, question));

    // The longest name: 255 bytes written, well inside a UDP message.
    EXPECT_EQ(write_query(1, four_labels(61), Type::A, out), 12u + 255u + 4u);
}

TEST(DnsQuery, InvalidNamesGiveNothing) {
    uint8_t out[max_message];
    for (const std::string& name : invalid_names())
        EXPECT_EQ(write_query(7, name, Type::A, out), 0u) << name;
    // A type the enum does not name is not asked for.
    EXPECT_EQ(write_query(7, "example.com", Type(15), out), 0u);
}

TEST(DnsQuery, TooSmallABufferGivesNothingAtEverySize) {
    for (std::string_view name : {"www.example.com", "a", "a.b.c.d.e.f."}) {
        uint8_t full[max_message];
        size_t length = write_query(9, name, Type::Aaaa, full);
        ASSERT_GT(length, 0u);
        for (size_t size = 0; size < length; ++size) {
            Bytes out(size); // exactly `size` bytes: the sanitizer sees a write past them
            EXPECT_EQ(write_query(9, name, Type::Aaaa, out), 0u) << name << " in " << size;
        }
        Bytes exact(length);
        EXPECT_EQ(write_query(9, name, Type::Aaaa, exact), length);
        EXPECT_EQ(exact, Bytes(full, full + length));
    }
}

TEST(DnsQuery, ItsOwnQuestionIsReadBack) {
    // A query turned into a response (QR set) echoes its question: no
    // records, but ours; for the longest name too.
    std::string longest = four_labels(61);
    for (std::string_view name :
         {std::string_view("www.example.com"), std::string_view("x."), std::string_view(longest)}) {
        uint8_t out[max_message];
        size_t length = write_query(0x4242, name, Type::A, out);
        ASSERT_GT(length, 0u);
        Bytes message(out, out + length);
        message[2] |= 0x80;
        EXPECT_EQ(read(message, Type::A, name, 0x4242).status, Status::NoRecords) << name;
        // The name with and without its final dot is the same question.
        std::string other(name);
        if (other.back() == '.')
            other.pop_back();
        else
            other.push_back('.');
        EXPECT_EQ(read(message, Type::A, other, 0x4242).status, Status::NoRecords) << name;
        EXPECT_EQ(read(message, Type::Aaaa, name, 0x4242).status, Status::NotOurs) << name;
    }
}

TEST(DnsResponse, OneA) {
    Builder message = response(1);
    message.name(query_name).record(type_a, class_in, 300, address_a);
    Outcome outcome = read(message.bytes);
    ASSERT_EQ(outcome.status, Status::Answered);
    ASSERT_EQ(outcome.addresses.count, 1u);
    EXPECT_EQ(outcome.addresses.length[0], 4u);
    EXPECT_EQ(address_at(outcome.addresses, 0), address_a);
    EXPECT_EQ(outcome.addresses.ttl, 300u);
    expect_prefixes_refused(message.bytes);
}

TEST(DnsResponse, SeveralAInOrderWithTheLeastTtl) {
    Builder message = response(3);
    message.pointer(question_offset).record(type_a, class_in, 300, {10, 0, 0, 1});
    message.pointer(question_offset).record(type_a, class_in, 60, {10, 0, 0, 2});
    message.pointer(question_offset).record(type_a, class_in, 3600, {10, 0, 0, 3});
    Outcome outcome = read(message.bytes);
    ASSERT_EQ(outcome.status, Status::Answered);
    ASSERT_EQ(outcome.addresses.count, 3u);
    for (size_t i = 0; i < 3; ++i) {
        EXPECT_EQ(address_at(outcome.addresses, i), (Bytes{10, 0, 0, uint8_t(i + 1)}));
        EXPECT_EQ(outcome.addresses.length[i], 4u);
    }
    EXPECT_EQ(outcome.addresses.ttl, 60u);
    expect_prefixes_refused(message.bytes);
}

TEST(DnsResponse, ATtlWithItsTopBitSetIsZero) {
    // RFC 2181 8: such a TTL is read as zero, the least of any.
    Builder message = response(2);
    message.pointer(question_offset).record(type_a, class_in, 100, {10, 0, 0, 1});
    message.pointer(question_offset).record(type_a, class_in, 0x80000000, {10, 0, 0, 2});
    Outcome outcome = read(message.bytes);
    ASSERT_EQ(outcome.status, Status::Answered);
    EXPECT_EQ(outcome.addresses.ttl, 0u);
}

TEST(DnsResponse, Aaaa) {
    Builder message = response(2, 0, query_name, type_aaaa);
    message.pointer(question_offset).record(type_aaaa, class_in, 120, address_aaaa);
    Bytes second = address_aaaa;
    second[15] = 2;
    message.pointer(question_offset).record(type_aaaa, class_in, 90, second);
    Outcome outcome = read(message.bytes, Type::Aaaa);
    ASSERT_EQ(outcome.status, Status::Answered);
    ASSERT_EQ(outcome.addresses.count, 2u);
    EXPECT_EQ(outcome.addresses.length[0], 16u);
    EXPECT_EQ(outcome.addresses.length[1], 16u);
    EXPECT_EQ(address_at(outcome.addresses, 0), address_aaaa);
    EXPECT_EQ(address_at(outcome.addresses, 1), second);
    EXPECT_EQ(outcome.addresses.ttl, 90u);
    expect_prefixes_refused(message.bytes, Type::Aaaa);
    // The same message does not answer a query for A records.
    EXPECT_EQ(read(message.bytes, Type::A).status, Status::NotOurs);
}

TEST(DnsResponse, ACnameIsSteppedOverAndTheAKept) {
    // www.example.com CNAME web.example.com; web.example.com A: the CNAME's
    // data and the A's owner are compressed against the question's name.
    Builder message = response(2);
    Builder target;
    target.labels("web").pointer(question_offset + 4); // "web" + "example.com"
    message.pointer(question_offset).record(type_cname, class_in, 3600, target.bytes);
    size_t target_offset = message.size() - target.size();
    message.pointer(uint16_t(target_offset)).record(type_a, class_in, 30, address_a);
    Outcome outcome = read(message.bytes);
    ASSERT_EQ(outcome.status, Status::Answered);
    ASSERT_EQ(outcome.addresses.count, 1u);
    EXPECT_EQ(address_at(outcome.addresses, 0), address_a);
    EXPECT_EQ(outcome.addresses.ttl, 30u); // the CNAME's TTL is not an address's
    expect_prefixes_refused(message.bytes);
}

TEST(DnsResponse, RecordsOfAnotherTypeOrClassAreSteppedOver) {
    Builder message = response(4);
    message.pointer(question_offset).record(type_aaaa, class_in, 5, address_aaaa);
    message.pointer(question_offset).record(type_a, class_ch, 5, {1, 2, 3, 4});
    message.pointer(question_offset).record(46, class_in, 5, Bytes(40, 0xee)); // an RRSIG
    message.pointer(question_offset).record(type_a, class_in, 50, address_a);
    Outcome outcome = read(message.bytes);
    ASSERT_EQ(outcome.status, Status::Answered);
    ASSERT_EQ(outcome.addresses.count, 1u);
    EXPECT_EQ(address_at(outcome.addresses, 0), address_a);
    EXPECT_EQ(outcome.addresses.ttl, 50u);
}

TEST(DnsResponse, CompressionPointersInOwnerNamesAndInTheQuestion) {
    // The question's name is a pointer forward to the answer's owner name,
    // written out in full, and a second owner name is labels then a pointer.
    Builder message;
    message.header(query_id, flag_qr | flag_rd | flag_ra, 1, 2);
    size_t answer_offset = question_offset + 2 + 4;
    message.pointer(uint16_t(answer_offset)).u16(type_a).u16(class_in);
    ASSERT_EQ(message.size(), answer_offset);
    message.name(query_name).record(type_a, class_in, 10, {10, 0, 0, 1});
    // "www" + a pointer to "example.com" inside the first owner's name.
    message.labels("www")
        .pointer(uint16_t(answer_offset + 4))
        .record(type_a, class_in, 20, {10, 0, 0, 2});
    Outcome outcome = read(message.bytes);
    ASSERT_EQ(outcome.status, Status::Answered);
    ASSERT_EQ(outcome.addresses.count, 2u);
    EXPECT_EQ(address_at(outcome.addresses, 0), (Bytes{10, 0, 0, 1}));
    EXPECT_EQ(address_at(outcome.addresses, 1), (Bytes{10, 0, 0, 2}));
    expect_prefixes_refused(message.bytes);

    // A question of labels then a pointer to the rest of the name.
    Builder split;
    split.header(query_id, flag_qr, 1, 1);
    split.labels("www").pointer(uint16_t(question_offset + 4 + 2 + 4 + 2 + 10 + 4));
    split.u16(type_a).u16(class_in);
    // The answer's owner is the question (a pointer), and after the record
    // comes "example.com" as a name no field points at but the question.
    split.pointer(question_offset).record(type_a, class_in, 7, address_a);
    ASSERT_EQ(split.size(), size_t(question_offset + 4 + 2 + 4 + 2 + 10 + 4));
    split.name("example.com");
    Outcome second = read(split.bytes);
    EXPECT_EQ(second.status, Status::Answered);
    EXPECT_EQ(second.addresses.count, 1u);
}

TEST(DnsResponse, TheQuestionsNameIsComparedWithoutCase) {
    Builder message = response(1, 0, "WWW.eXaMpLe.COM");
    message.pointer(question_offset).record(type_a, class_in, 10, address_a);
    EXPECT_EQ(read(message.bytes).status, Status::Answered);
    EXPECT_EQ(read(message.bytes, Type::A, "www.EXAMPLE.com.").status, Status::Answered);
}

TEST(DnsResponse, ErrorsOfTheServer) {
    struct Case {
        uint16_t rcode;
        Status status;
    };
    for (Case c : {Case{3, Status::NoSuchName}, Case{2, Status::ServerFailed},
                   Case{5, Status::ServerFailed}, Case{1, Status::ServerFailed},
                   Case{4, Status::ServerFailed}, Case{15, Status::ServerFailed}}) {
        Builder message = response(0, c.rcode);
        EXPECT_EQ(read(message.bytes).status, c.status) << c.rcode;
        // Records beside an error are not read as an answer.
        Builder with_record = response(1, c.rcode);
        with_record.pointer(question_offset).record(type_a, class_in, 10, address_a);
        Outcome outcome = read(with_record.bytes);
        EXPECT_EQ(outcome.status, c.status) << c.rcode;
        EXPECT_EQ(outcome.addresses.count, 0u);
    }
}

TEST(DnsResponse, NoErrorWithoutRecordsOfTheType) {
    EXPECT_EQ(read(response(0).bytes).status, Status::NoRecords);
    // Only a CNAME, whose target has no A: still none.
    Builder message = response(1);
    Builder target;
    target.name("elsewhere.example");
    message.pointer(question_offset).record(type_cname, class_in, 10, target.bytes);
    Outcome outcome = read(message.bytes);
    EXPECT_EQ(outcome.status, Status::NoRecords);
    EXPECT_EQ(outcome.addresses.count, 0u);
}

TEST(DnsResponse, TruncatedIsNotRead) {
    Builder message = response(1, flag_tc);
    message.pointer(question_offset).record(type_a, class_in, 10, address_a);
    Outcome outcome = read(message.bytes);
    EXPECT_EQ(outcome.status, Status::Truncated);
    EXPECT_EQ(outcome.addresses.count, 0u);
    // Its records cut short are no matter.
    EXPECT_EQ(read(response(3, flag_tc).bytes).status, Status::Truncated);
}

TEST(DnsResponse, NotOurs) {
    auto answered = [](Builder message) {
        message.pointer(question_offset).record(type_a, class_in, 10, address_a);
        return message.bytes;
    };
    // Another id.
    EXPECT_EQ(read(answered(response(1, 0, query_name, type_a, class_in, 0x1235))).status,
              Status::NotOurs);
    EXPECT_EQ(read(answered(response(1)), Type::A, query_name, 0x4321).status, Status::NotOurs);
    // Not a response: QR clear.
    Bytes query = answered(response(1));
    query[2] &= 0x7f;
    EXPECT_EQ(read(query).status, Status::NotOurs);
    // Another opcode (2, STATUS; 4, NOTIFY).
    for (uint8_t opcode : {1, 2, 4, 15}) {
        Bytes other = answered(response(1));
        other[2] = uint8_t(other[2] | opcode << 3);
        EXPECT_EQ(read(other).status, Status::NotOurs) << int(opcode);
    }
    // Another question: name, type, class.
    for (std::string_view name :
         {"www.example.org", "ww.example.com", "www.example.com.evil", "example.com", "www.example",
          "wwww.example.com", "www.examplf.com"}) {
        EXPECT_EQ(read(answered(response(1, 0, name))).status, Status::NotOurs) << name;
    }
    EXPECT_EQ(read(answered(response(1, 0, query_name, type_aaaa))).status, Status::NotOurs);
    EXPECT_EQ(read(answered(response(1, 0, query_name, type_cname))).status, Status::NotOurs);
    EXPECT_EQ(read(answered(response(1, 0, query_name, type_a, class_ch))).status, Status::NotOurs);
    // The same letters cut into other labels: "www" "example.com" (a dot
    // inside a label) is not www.example.com.
    Builder dotted;
    dotted.header(query_id, flag_qr, 1, 1);
    dotted.u8(3)
        .raw({'w', 'w', 'w'})
        .u8(11)
        .raw({'e', 'x', 'a', 'm', 'p', 'l', 'e', '.', 'c', 'o', 'm'});
    dotted.u8(0).u16(type_a).u16(class_in);
    EXPECT_EQ(read(answered(dotted)).status, Status::NotOurs);
    // No question, or two.
    Builder none;
    none.header(query_id, flag_qr, 0, 1);
    EXPECT_EQ(read(answered(none)).status, Status::NotOurs);
    Builder two;
    two.header(query_id, flag_qr, 2, 1).name(query_name).u16(type_a).u16(class_in);
    two.name(query_name).u16(type_a).u16(class_in);
    EXPECT_EQ(read(answered(two)).status, Status::NotOurs);
    // A query this library would not have sent.
    EXPECT_EQ(read(answered(response(1)), Type::A, "a..b").status, Status::NotOurs);
    EXPECT_EQ(read(answered(response(1)), Type(15)).status, Status::NotOurs);
    // As few as two bytes of another id are not ours either.
    EXPECT_EQ(read({0x12, 0x35}).status, Status::NotOurs);
}

TEST(DnsResponse, KeepsTheFirstMaxAddressesRecords) {
    const size_t records = max_addresses + 4;
    Builder message = response(uint16_t(records));
    for (size_t i = 0; i < records; ++i) {
        // The records after the kept ones have the least TTL: it is not theirs to give.
        uint32_t ttl = i < max_addresses ? uint32_t(1000 - i) : 1;
        message.pointer(question_offset).record(type_a, class_in, ttl, {10, 0, 1, uint8_t(i)});
    }
    Outcome outcome = read(message.bytes);
    ASSERT_EQ(outcome.status, Status::Answered);
    ASSERT_EQ(outcome.addresses.count, max_addresses);
    for (size_t i = 0; i < max_addresses; ++i)
        EXPECT_EQ(address_at(outcome.addresses, i), (Bytes{10, 0, 1, uint8_t(i)}));
    EXPECT_EQ(outcome.addresses.ttl, uint32_t(1000 - (max_addresses - 1)));
}

TEST(DnsResponse, BytesAfterTheAnswerSectionAreNotRead) {
    // An additional record, cut short, and bytes that are no record at all.
    Builder message = response(1);
    message.bytes[11] = 1; // ARCOUNT
    message.pointer(question_offset).record(type_a, class_in, 10, address_a);
    size_t answer_end = message.size();
    message.pointer(question_offset).u16(type_a).u16(class_in).u32(10).u16(4).u8(1);
    for (size_t size = answer_end; size <= message.size(); ++size) {
        Bytes prefix(message.bytes.begin(), message.bytes.begin() + ptrdiff_t(size));
        Outcome outcome = read(prefix);
        ASSERT_EQ(outcome.status, Status::Answered) << size;
        EXPECT_EQ(outcome.addresses.count, 1u);
        EXPECT_EQ(address_at(outcome.addresses, 0), address_a);
    }
}

TEST(DnsResponse, MalformedMessages) {
    auto expect_malformed = [](const Bytes& message, Type type = Type::A) {
        Outcome outcome = read(message, type);
        EXPECT_EQ(outcome.status, Status::Malformed) << ::testing::PrintToString(message);
        EXPECT_EQ(outcome.addresses.count, 0u);
    };
    // Shorter than a header, though ours as far as it goes.
    expect_malformed({});
    expect_malformed({0x12});
    Bytes header = response(0).bytes;
    header.resize(11);
    expect_malformed(header);

    // A pointer loop: in the question (to itself, and two pointing at each
    // other), and in an answer's owner name.
    Builder self;
    self.header(query_id, flag_qr, 1, 0).pointer(question_offset).u16(type_a).u16(class_in);
    expect_malformed(self.bytes);
    Builder pair;
    pair.header(query_id, flag_qr, 1, 0).pointer(question_offset + 2).pointer(question_offset);
    pair.u16(type_a).u16(class_in);
    expect_malformed(pair.bytes);
    Builder owner_loop = response(1);
    uint16_t owner = uint16_t(owner_loop.size());
    owner_loop.labels("www").pointer(owner).record(type_a, class_in, 1, address_a);
    expect_malformed(owner_loop.bytes);

    // A pointer past the end, in the question and in an owner name.
    Builder past;
    past.header(query_id, flag_qr, 1, 0).pointer(0x3fff).u16(type_a).u16(class_in);
    expect_malformed(past.bytes);
    Builder owner_past = response(1);
    owner_past.pointer(uint16_t(owner_past.size() + 16)).record(type_a, class_in, 1, address_a);
    expect_malformed(owner_past.bytes);

    // An address of the wrong length.
    Builder five = response(1);
    five.pointer(question_offset).record(type_a, class_in, 1, {1, 2, 3, 4, 5});
    expect_malformed(five.bytes);
    Builder four = response(1, 0, query_name, type_aaaa);
    four.pointer(question_offset).record(type_aaaa, class_in, 1, address_a);
    expect_malformed(four.bytes, Type::Aaaa);
    // ... even past the addresses kept.
    Builder late = response(uint16_t(max_addresses + 1));
    for (size_t i = 0; i < max_addresses; ++i)
        late.pointer(question_offset).record(type_a, class_in, 1, address_a);
    late.pointer(question_offset).record(type_a, class_in, 1, {1, 2, 3});
    expect_malformed(late.bytes);

    // More answers counted than there are.
    Builder counted = response(2);
    counted.pointer(question_offset).record(type_a, class_in, 1, address_a);
    expect_malformed(counted.bytes);
    expect_malformed(response(1).bytes);

    // An RDLENGTH past the end.
    Builder long_data = response(1);
    long_data.pointer(question_offset).u16(type_cname).u16(class_in).u32(1).u16(100).u8(0);
    expect_malformed(long_data.bytes);

    // The label types RFC 1035 reserves (0x80) and extended labels (0x40,
    // RFC 6891), in the question and in an owner name.
    for (uint8_t prefix :
         {uint8_t(0x40), uint8_t(0x41), uint8_t(0x7f), uint8_t(0x80), uint8_t(0xbf)}) {
        Builder question;
        question.header(query_id, flag_qr, 1, 0).u8(prefix).u8(0).u8(0).u16(type_a).u16(class_in);
        expect_malformed(question.bytes);
        Builder answer = response(1);
        answer.u8(prefix).u8(0).record(type_a, class_in, 1, address_a);
        expect_malformed(answer.bytes);
    }

    // An owner name past 255 bytes once expanded: four labels of 63 and the
    // question's 17 bytes behind a pointer; three such labels are fine, and
    // so is a name of exactly 255 bytes written out.
    std::string label(63, 'x');
    Builder too_long = response(1);
    too_long.labels(label + "." + label + "." + label + "." + label).pointer(question_offset);
    too_long.record(type_a, class_in, 1, address_a);
    expect_malformed(too_long.bytes);
    Builder long_enough = response(1);
    long_enough.labels(label + "." + label + "." + label).pointer(question_offset);
    long_enough.record(type_a, class_in, 1, address_a);
    EXPECT_EQ(read(long_enough.bytes).status, Status::Answered);
    std::string name_255 = label + "." + label + "." + label + "." + std::string(61, 'y');
    std::string name_256 = label + "." + label + "." + label + "." + std::string(62, 'y');
    Builder exactly = response(1);
    exactly.name(name_255).record(type_a, class_in, 1, address_a);
    EXPECT_EQ(read(exactly.bytes).status, Status::Answered);
    Builder one_more = response(1);
    one_more.name(name_256).record(type_a, class_in, 1, address_a);
    expect_malformed(one_more.bytes);
}

TEST(DnsResponse, AnswerLeftEmptyUnlessAnswered) {
    Addresses addresses;
    addresses.count = 3;
    addresses.ttl = 99;
    addresses.length[0] = 4;
    Builder counted = response(2);
    counted.pointer(question_offset).record(type_a, class_in, 1, address_a);
    EXPECT_EQ(read_response(counted.bytes, query_id, query_name, Type::A, addresses),
              Status::Malformed);
    EXPECT_EQ(addresses.count, 0u);
    EXPECT_EQ(addresses.ttl, 0u);
    EXPECT_EQ(addresses.length[0], 0u);
}

TEST(DnsStatus, EachHasItsOwnText) {
    std::vector<std::string_view> texts;
    for (Status status :
         {Status::Answered, Status::NoRecords, Status::NoSuchName, Status::ServerFailed,
          Status::Truncated, Status::NotOurs, Status::Malformed}) {
        std::string_view text = to_string(status);
        EXPECT_FALSE(text.empty());
        for (std::string_view other : texts)
            EXPECT_NE(text, other);
        texts.push_back(text);
    }
    EXPECT_EQ(to_string(Status::Answered), "answered");
    EXPECT_EQ(to_string(Status::NoSuchName), "no such name");
}

} // namespace
