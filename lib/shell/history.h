// The lines the shell has run, as `history` lists them: kept whole up to the
// terminal's longest line, in a ring bounded by bytes and by count (the
// oldest forgotten first), numbered in the order they ran.
#pragma once

#include "lib/term/history_ring.h"
#include "schema/capos.capnp.capos.h"

namespace capos::shell {

// 8 KiB of text: at least eight lines of the terminal's longest, and up to
// 64 ordinary ones.
using History = term::HistoryRing<8192, 64>;

static_assert(schema::TerminalSession::max_line <= History::capacity_bytes,
              "a line the terminal reads must fit whole in the history");

} // namespace capos::shell
