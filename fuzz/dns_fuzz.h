// What dns_fuzz and its seed generator share: the query every input is read
// as the answer to. (The id and name are fixed so that the seeds, written
// as answers to them, take mutations past the checks that a response is
// ours and into the records.)
#pragma once

#include <cstdint>
#include <string_view>

namespace capos::fuzz::dns_query {

inline constexpr uint16_t id = 0x5a17;
inline constexpr std::string_view name = "www.example.com";

} // namespace capos::fuzz::dns_query
