// The manual's pages, made on the host (capos-mkman): section 2 from the
// schema's doc comments, sections 1 and 7 from hand-written text files, all
// packed into the cpio archive lib/man/manual.h describes (etc/man.bin).
#pragma once

#include "lib/base/result.h"
#include "lib/capnp/wire.h"

#include <cstdint>
#include <span>
#include <string>
#include <vector>

namespace capos::mkman {

struct ManPage {
    uint8_t section;
    std::string title;
    std::string text; // first line "<title> - <summary>"
};

// One section-2 page per interface the request's requested files declare:
// "<Name> - <first sentence of its doc comment>", the doc comment, then each
// method's signature in Cap'n Proto syntax and its doc comment. Fails, naming
// it, on an interface or a method without a doc comment, and on a request
// that does not read as a CodeGeneratorRequest (framed, as `capnp compile -o-`
// writes it).
Result<std::vector<ManPage>, std::string> interface_pages(std::span<const capnp::Word> request);

// A hand-written page: `text` must start with "<title> - <summary>".
Result<ManPage, std::string> text_page(uint8_t section, std::string title, std::string text);

// The pages in section order, then title order, as a cpio archive. Fails on
// two pages of one title in a section.
Result<std::vector<uint8_t>, std::string> pack(std::vector<ManPage> pages);

} // namespace capos::mkman
